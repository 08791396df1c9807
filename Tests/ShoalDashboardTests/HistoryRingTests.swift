import ShoalDashboard
import Testing

@Suite struct HistoryRingTests {
    @Test(arguments: [1, 2, 3, 7])
    func keepsTheLastCapacityValuesOldestFirst(capacity: Int) {
        var ring = HistoryRing<Int>(capacity: capacity)
        #expect(ring.isEmpty)
        for value in 0..<(capacity * 3 + 1) {
            ring.append(value)
            let expected = Array(max(0, value - capacity + 1)...value)
            #expect(Array(ring) == expected, "after appending \(value)")
            #expect(ring.last == value)
            #expect(ring.count == min(capacity, value + 1))
        }
    }

    @Test func removeAllStartsOver() {
        var ring = HistoryRing<Int>(capacity: 3)
        for value in 0..<5 { ring.append(value) }
        ring.removeAll()
        ring.append(9)
        #expect(Array(ring) == [9])
    }
}
