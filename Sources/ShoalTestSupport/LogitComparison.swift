import Foundation

/// How far apart two logit rows are as distributions: what the accuracy bars of the fast path (and of a model
/// split across tensor-parallel ranks) are measured in.
public enum LogitComparison {
    /// KL(p || q) in nats between the softmaxes of two logit rows, and whether their argmaxes agree.
    public static func compare(_ p: ArraySlice<Float>, _ q: ArraySlice<Float>) -> (kl: Double, sameTop: Bool) {
        func logSoftmax(_ row: ArraySlice<Float>) -> [Double] {
            let maximum = Double(row.max()!)
            let logSum = log(row.reduce(0.0) { $0 + exp(Double($1) - maximum) }) + maximum
            return row.map { Double($0) - logSum }
        }
        let lp = logSoftmax(p), lq = logSoftmax(q)
        var kl = 0.0
        for i in lp.indices { kl += exp(lp[i]) * (lp[i] - lq[i]) }
        let topP = p.indices.max { p[$0] < p[$1] }!, topQ = q.indices.max { q[$0] < q[$1] }!
        return (max(0, kl), topP - p.startIndex == topQ - q.startIndex)
    }
}
