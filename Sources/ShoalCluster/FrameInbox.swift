import Foundation
import ShoalEngine

/// Frames a reader thread has received, waiting for the thread that handles them. A worker reads its leader's
/// link on a thread of its own so that the leader can always send (the next step's batch while this one runs)
/// without both ends blocking in `send` at once.
final class FrameInbox: @unchecked Sendable {  // guarded by `condition`
    private let condition = NSCondition()
    private var frames: [Frame] = []
    private var head = 0
    private var closure: (any Error)?

    /// Starts a thread that receives from `connection` into the inbox until the link fails or closes.
    static func reading(_ connection: FrameConnection) -> FrameInbox {
        let inbox = FrameInbox()
        let thread = Thread {
            while true {
                do {
                    inbox.push(try connection.receive(deadline: nil))
                } catch {
                    inbox.close(error)
                    return
                }
            }
        }
        thread.name = "shoal-worker-reader"
        thread.start()
        return inbox
    }

    func push(_ frame: Frame) {
        condition.lock()
        frames.append(frame)
        condition.signal()
        condition.unlock()
    }

    /// Ends the inbox: once the frames already in it are taken, `next` throws `error`.
    func close(_ error: any Error) {
        condition.lock()
        if closure == nil { closure = error }
        condition.broadcast()
        condition.unlock()
    }

    /// Whether the link has failed or closed (frames received before may still be waiting).
    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closure != nil
    }

    /// The oldest frame (of `kind`, when given: others stay queued, as the next step's batch does while this
    /// step waits for its sums), waiting for one until `deadline` (nil: no limit).
    /// - Throws: the link's error once it has closed and no such frame is left; `ClusterError(.timedOut)`.
    func next(kind: UInt16? = nil, deadline: ContinuousClock.Instant?) throws -> Frame {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let index = frames[head...].firstIndex(where: { kind == nil || $0.kind == kind }) {
                let frame = frames[index]
                if index == head {
                    head += 1
                } else {
                    frames.remove(at: index)
                }
                if head == frames.count {
                    frames.removeAll(keepingCapacity: true)
                    head = 0
                }
                return frame
            }
            if let closure { throw closure }
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                guard left > .zero else { throw ClusterError(.timedOut, "no frame from the leader before the deadline") }
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(0.001, left.seconds)))
            } else {
                condition.wait()
            }
        }
    }
}
