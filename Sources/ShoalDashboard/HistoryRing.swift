/// The last `capacity` values appended, oldest first: a fixed-size ring that overwrites its oldest value.
package struct HistoryRing<Element: Sendable>: Sendable, RandomAccessCollection {
    package let capacity: Int
    private var storage: [Element] = []
    /// Where the oldest value is once the ring is full.
    private var head = 0

    /// - Parameter capacity: how many values it keeps (at least 1).
    package init(capacity: Int) {
        precondition(capacity >= 1, "a history keeps at least one value")
        self.capacity = capacity
        storage.reserveCapacity(capacity)
    }

    /// Appends `value`, dropping the oldest one when full. - Complexity: O(1).
    package mutating func append(_ value: Element) {
        if storage.count < capacity {
            storage.append(value)
        } else {
            storage[head] = value
            head = (head + 1) % capacity
        }
    }

    /// Forgets every value.
    package mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        head = 0
    }

    package var startIndex: Int { 0 }
    package var endIndex: Int { storage.count }

    /// The `position`-th oldest value.
    package subscript(position: Int) -> Element {
        precondition(indices.contains(position), "index out of range")
        return storage[(head + position) % storage.count]
    }
}
