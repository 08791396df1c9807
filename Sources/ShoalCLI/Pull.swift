import ArgumentParser
import ShoalStore

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a catalogue model into the local store ($SHOAL_HOME/models).")

    @Argument(help: "Catalogue name.")
    var name: String = ModelCatalog.defaultModelName

    @Flag(help: "List the catalogue, then (as # lines) the real files of every supported architecture a user can bring.")
    var list = false

    func run() throws {
        if list {
            for entry in ModelCatalog.entries {
                print("\(entry.name)\t\(entry.fileName)\t\(entry.summary)")
            }
            print("")
            print("# Files to bring yourself (shoal serve --model PATH); any quantization of the supported types:")
            for file in ModelCatalog.compatibleFiles {
                print("# \(file.model)\t\(file.fileName)\t\(file.architecture): \(file.note)")
            }
            return
        }
        guard let entry = ModelCatalog.entry(named: name) else {
            throw ValidationError("unknown model '\(name)'; known: \(ModelCatalog.entries.map(\.name).joined(separator: ", "))")
        }
        let path = try ModelStore().pull(entry) { printError($0) }
        print(path)
    }
}
