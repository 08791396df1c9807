import Foundation

/// Children that `shoal` starts (`serve --replicas`, model-parallel workers) end when their parent does, even when
/// the parent was killed without a chance to stop them: the parent passes its pid in `SHOAL_PARENT_PID`, and the
/// child checks once a second that it still is its parent; once it is not (the child was handed to init or a
/// subreaper), the child sends itself SIGTERM and shuts down as it would on any SIGTERM.
enum ParentWatch {
    static let variable = "SHOAL_PARENT_PID"

    /// Starts the watch when this process was started by a `shoal` parent.
    static func startIfChild() {
        guard let text = ProcessInfo.processInfo.environment[variable], let parent = pid_t(text), parent > 1 else { return }
        let thread = Thread {
            while getppid() == parent { sleep(1) }
            kill(getpid(), SIGTERM)
        }
        thread.name = "shoal-parent-watch"
        thread.start()
    }
}
