/// Random prompts of common English words (each about one token in GPT-2-style vocabularies).
package struct PromptGenerator: Sendable {
    static let words = ("the of and to in is that it for as was with be by on not he this are or his from at which but have an they " +
        "you were her she there one all we their been has when who will more no if out so said what up its about into than them can " +
        "only other new some could time these two may then do first any my now such like our over man me even most made after also " +
        "did many before must through back years where much your way well down should because each just those people how too little " +
        "state good very make world still own see men work long get here between both life being under never day same another know " +
        "while last might us great old year off come since against go came right used take three").split(separator: " ").map(String.init)
    private var state: UInt64

    package init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    private mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }

    /// A number in `0..<bound`.
    package mutating func index(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// About `words` tokens of text, each word with its leading space.
    package mutating func text(words count: Int) -> String {
        (0..<count).map { _ in " " + Self.words[Int(next() % UInt64(Self.words.count))] }.joined()
    }
}
