/// Arithmetic on Prometheus counters read at two times.
package enum CounterMath {
    /// How much a counter grew from `earlier` to `later`. A counter that went back was reset (a restarted
    /// replica) and has counted from zero since, so its growth is its new value.
    package static func increase(from earlier: Double, to later: Double) -> Double {
        later >= earlier ? later - earlier : later
    }

    /// The per-second growth of a counter over `seconds`, or nil when no time passed.
    package static func rate(from earlier: Double, to later: Double, seconds: Double) -> Double? {
        guard seconds > 0 else { return nil }
        return increase(from: earlier, to: later) / seconds
    }
}
