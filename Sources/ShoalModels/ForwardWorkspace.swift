/// Scratch buffers for one forward pass, grown on demand and reused, so that a decode step allocates nothing.
final class ForwardWorkspace: @unchecked Sendable {  // only touched under DecoderModel's mutex
    private(set) var x = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var normed = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var q = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var k = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var v = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var attention = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var gate = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var up = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var scores = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var scoreStride = 0
    private var tokenCapacity = 0
    private var scoreCapacity = 0
    private var widths: [Int] = []
    var rotary = RotaryTable()

    func reserve(tokens: Int, hidden: Int, query: Int, kv: Int, feedForward: Int, scoreStride: Int, scoreGroups: Int) {
        let wanted = [hidden, query, kv, feedForward]
        if tokens > tokenCapacity || wanted != widths {
            let capacity = max(tokens, tokenCapacity)
            func grow(_ p: inout UnsafeMutablePointer<Float>, _ width: Int) {
                p.deallocate()
                p = .allocate(capacity: capacity * width)
                p.initialize(repeating: 0, count: capacity * width)
            }
            grow(&x, hidden)
            grow(&normed, max(hidden, query))
            grow(&q, query)
            grow(&k, kv)
            grow(&v, kv)
            grow(&attention, query)
            grow(&gate, feedForward)
            grow(&up, feedForward)
            tokenCapacity = capacity
            widths = wanted
        }
        // Round the stride up so growth is rare during decoding.
        let stride = max(64, (scoreStride + 255) / 256 * 256)
        if stride > self.scoreStride || stride * scoreGroups > scoreCapacity {
            let newStride = max(stride, self.scoreStride)
            scores.deallocate()
            scoreCapacity = newStride * scoreGroups
            scores = .allocate(capacity: scoreCapacity)
            self.scoreStride = newStride
        }
    }

    deinit {
        for p in [x, normed, q, k, v, attention, gate, up, scores] { p.deallocate() }
    }
}

/// Scratch of the mixture-of-experts MLP (router scores, the rows routed to one expert, its activations and
/// output, the weighted sum), grown on demand.
final class ExpertScratch: @unchecked Sendable {  // only touched under DecoderModel's mutex
    private(set) var scores = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var input = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var gate = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var up = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var expertOutput = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private(set) var output = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private var shape: [Int] = [0, 0, 0, 0]
    /// One token's softmax over the experts.
    var probabilities: [Double] = []
    /// The chosen experts' probabilities of the token being routed.
    var chosenProbability: [Double] = []
    /// Every token's chosen experts and their weights (`tokens x used`).
    var chosen: [Int] = []
    var chosenWeight: [Float] = []
    /// The routed rows grouped by expert: expert e's rows are `routeStart[e]..<routeStart[e + 1]`.
    var routeStart: [Int] = []
    var routeCursor: [Int] = []
    var routedToken: [Int] = []
    var routedWeight: [Float] = []

    /// Grows the routing arrays to a step's size (they never shrink, so a warm step allocates nothing) and zeroes
    /// the per-expert counts.
    func prepareRouting(tokens: Int, experts: Int, used: Int) {
        func size<T>(_ array: inout [T], _ count: Int, _ zero: T) {
            if array.count < count { array = [T](repeating: zero, count: count) }
        }
        size(&probabilities, experts, 0)
        size(&chosenProbability, used, 0)
        size(&chosen, tokens * used, 0)
        size(&chosenWeight, tokens * used, 0)
        size(&routedToken, tokens * used, 0)
        size(&routedWeight, tokens * used, 0)
        size(&routeCursor, experts + 1, 0)
        size(&routeStart, experts + 1, 0)
        for e in 0...experts { routeStart[e] = 0 }
    }

    func reserve(tokens: Int, hidden: Int, experts: Int, width: Int) {
        let wanted = [tokens, hidden, experts, width]
        guard zip(wanted, shape).contains(where: { $0 > $1 }) else { return }
        let grown = zip(wanted, shape).map { max($0, $1) }
        shape = grown
        let (n, h, e, w) = (grown[0], grown[1], grown[2], grown[3])
        for (pointer, count) in [(\ExpertScratch.scores, n * e), (\.input, n * h), (\.gate, n * w), (\.up, n * w),
                                 (\.expertOutput, n * h), (\.output, n * h)] as [(ReferenceWritableKeyPath<ExpertScratch, UnsafeMutablePointer<Float>>, Int)] {
            self[keyPath: pointer].deallocate()
            self[keyPath: pointer] = .allocate(capacity: max(count, 1))
        }
    }

    deinit {
        for p in [scores, input, gate, up, expertOutput, output] { p.deallocate() }
    }
}
