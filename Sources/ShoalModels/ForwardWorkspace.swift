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
