/// A request handed to the ``Scheduler``: one sequence to complete.
public struct SchedulerRequest: Sendable {
    /// Unique among the scheduler's waiting and running sequences.
    public var id: SequenceID
    /// The prompt's token ids (at least one).
    public var promptTokens: [Int32]
    /// The most tokens to generate (at least one).
    public var maxTokens: Int
    /// Lower values are admitted first and preempted last; equal priorities are served in arrival order.
    public var priority: Int

    public init(id: SequenceID, promptTokens: [Int32], maxTokens: Int, priority: Int = 0) {
        self.id = id
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.priority = priority
    }
}
