import ArgumentParser
import ShoalStore

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a catalogue model into the local store ($SHOAL_HOME/models).")

    @Argument(help: "Catalogue name.")
    var name: String = ModelCatalog.defaultModelName

    @Flag(help: "List the catalogue instead.")
    var list = false

    func run() throws {
        if list {
            for entry in ModelCatalog.entries {
                print("\(entry.name)\t\(entry.fileName)\t\(entry.summary)")
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
