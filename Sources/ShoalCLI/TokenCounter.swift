import Foundation
import ShoalBench

/// Token counts of ShareGPT texts: the server's `/tokenize` or words, remembered so a sweep asks once a text.
struct TokenCounter {
    var mode: TokenCounting
    var server: BenchServeClient
    var model: String
    private var known: [String: Int] = [:]

    init(mode: TokenCounting, server: BenchServeClient, model: String) {
        self.mode = mode
        self.server = server
        self.model = model
    }

    mutating func count(_ text: String) async throws -> Int {
        if let count = known[text] { return count }
        let count: Int
        switch mode {
        case .words:
            count = ShareGPTDataset.estimatedTokens(text)
        case .server:
            count = try await server.tokenCount(of: text, model: model)
        case .auto:
            do {
                count = try await server.tokenCount(of: text, model: model)
            } catch {
                FileHandle.standardError.write(Data("bench serve: /tokenize failed (\(error)); counting tokens by words\n".utf8))
                mode = .words
                count = ShareGPTDataset.estimatedTokens(text)
            }
        }
        known[text] = count
        return count
    }
}
