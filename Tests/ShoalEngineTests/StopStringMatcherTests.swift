import ShoalEngine
import Testing

struct StopStringMatcherTests {
    /// Feeds the pieces; returns everything emitted (plus `finish()` if no stop) and whether it stopped.
    static func run(_ stops: [String], _ pieces: [String]) -> (text: String, stopped: Bool, emitted: [String]) {
        var matcher = StopStringMatcher(stops: stops)
        var emitted: [String] = []
        for piece in pieces {
            let (emit, stopped) = matcher.append(piece)
            emitted.append(emit)
            if stopped { return (emitted.joined(), true, emitted) }
        }
        let tail = matcher.finish()
        return (emitted.joined() + tail, false, emitted + [tail])
    }

    @Test func stopInsideOnePiece() {
        let r = Self.run(["END"], ["Hello END world"])
        #expect(r.text == "Hello ")
        #expect(r.stopped)
    }

    @Test func stopSplitAcrossAppendsIsHeldBackThenCut() {
        let r = Self.run(["</answer>"], ["The answer is 4.</", "ans", "wer> trailing"])
        #expect(r.emitted == ["The answer is 4.", "", ""])
        #expect(r.text == "The answer is 4.")
        #expect(r.stopped)
    }

    @Test func heldTextIsReleasedWhenTheStopDoesNotComplete() {
        let r = Self.run(["###"], ["a #", "# b", " c"])
        #expect(r.emitted == ["a ", "## b", " c", ""])
        #expect(!r.stopped)
        #expect(r.text == "a ## b c")
    }

    @Test func finishReleasesAPartialStopAtTheEnd() {
        let r = Self.run(["STOP"], ["go ST"])
        #expect(r.emitted == ["go ", "ST"])
        #expect(r.text == "go ST")
    }

    @Test func overlappingCandidatesTheEarliestCompleteMatchWins() {
        #expect(Self.run(["abc", "bcd"], ["abcd"]).text == "")
        #expect(Self.run(["bcd", "abc"], ["xab", "cd"]).text == "x")
        // "bc" completes first; "abcd" could still have matched but a complete stop ends generation.
        #expect(Self.run(["abcd", "bc"], ["a", "b", "c", "d"]).text == "a")
        // Same start: the longer stop wins (the output is the same text before it either way).
        #expect(Self.run(["ab", "abc"], ["xabc"]).text == "x")
        // A stop whose prefix repeats: "aab" inside "aaab".
        #expect(Self.run(["aab"], ["a", "a", "a", "b"]).text == "a")
    }

    @Test func holdsBackOnlyWhatCouldStartAStop() {
        var matcher = StopStringMatcher(stops: ["xyz", "hello"])
        #expect(matcher.append("say hel") == ("say ", false))
        #expect(matcher.append("p") == ("help", false))
        #expect(matcher.append("x") == ("", false))
        #expect(matcher.append("y") == ("", false))
        #expect(matcher.append("!") == ("xy!", false))
        #expect(matcher.finish() == "")
    }

    @Test func afterAStopEverythingIsDropped() {
        var matcher = StopStringMatcher(stops: ["\n\n"])
        #expect(matcher.append("one\n\ntwo") == ("one", true))
        #expect(matcher.stopped)
        #expect(matcher.append("three") == ("", true))
        #expect(matcher.finish() == "")
    }

    @Test func noStopsPassesTextThrough() {
        var matcher = StopStringMatcher(stops: ["", ""])
        #expect(matcher.stops.isEmpty)
        #expect(matcher.append("abc") == ("abc", false))
        #expect(matcher.finish() == "")
    }

    @Test func matchesBytesNotGraphemes() {
        // "\r\n" is one Character in Swift, but "\n" is a stop inside it.
        #expect(Self.run(["\n"], ["line\r\nnext"]).text == "line\r")
        // Multi-byte text and stops.
        #expect(Self.run(["🛑"], ["héllo ", "wörld 🛑 rest"]).text == "héllo wörld ")
        #expect(Self.run(["é!"], ["café", "!"]).text == "caf")
    }
}
