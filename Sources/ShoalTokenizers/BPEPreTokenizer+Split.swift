extension BPEPreTokenizer {
    /// Splits the scalars of `text` into pieces, appending the end index (in scalars) of each piece to `ends`.
    ///
    /// - Complexity: O(n) in the number of scalars.
    func split(_ text: ScalarText, into ends: inout [Int]) {
        let count = text.count
        switch self {
        case .gpt2:
            Self.splitGPT2(text, start: 0, end: count, into: &ends)
        case .smollm:
            // First pass `\p{N}`: every number scalar is a piece of its own.
            var runStart = 0
            for index in 0..<count where text.classes[index] & ScalarText.number != 0 {
                if runStart < index {
                    Self.splitGPT2(text, start: runStart, end: index, into: &ends)
                }
                ends.append(index + 1)
                runStart = index + 1
            }
            if runStart < count {
                Self.splitGPT2(text, start: runStart, end: count, into: &ends)
            }
        case .llama3:
            Self.splitLlama3(text, start: 0, end: count, maxDigits: 3, into: &ends)
        case .qwen2:
            Self.splitLlama3(text, start: 0, end: count, maxDigits: 1, into: &ends)
        case .tekken:
            Self.splitTekken(text, start: 0, end: count, into: &ends)
        }
    }

    private static let letter = ScalarText.letter
    private static let number = ScalarText.number
    private static let whitespace = ScalarText.whitespace
    private static let wordClasses = ScalarText.letter | ScalarText.number | ScalarText.whitespace

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` over `start..<end`,
    /// which is treated as the whole input (nothing is visible past `end`).
    static func splitGPT2(_ text: ScalarText, start: Int, end: Int, into ends: inout [Int]) {
        text.values.withUnsafeBufferPointer { values in
            text.classes.withUnsafeBufferPointer { classes in
                @inline(__always) func cls(_ index: Int) -> UInt8 { index < end ? classes[index] : 0 }
                var pos = start
                while pos < end {
                    let cpt = values[pos]
                    let flags = classes[pos]
                    // 's|'t|'re|'ve|'m|'ll|'d
                    if cpt == 0x27, pos + 1 < end {
                        let next = values[pos + 1]
                        if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {  // s t m d
                            pos += 2
                            ends.append(pos)
                            continue
                        }
                        if pos + 2 < end {
                            let nextNext = values[pos + 2]
                            if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65)
                                || (next == 0x6C && nextNext == 0x6C)
                            {  // re ve ll
                                pos += 3
                                ends.append(pos)
                                continue
                            }
                        }
                    }
                    let flags2 = cpt == 0x20 ? cls(pos + 1) : flags
                    // ?\p{L}+
                    if flags2 & letter != 0 {
                        if cpt == 0x20 { pos += 1 }
                        while cls(pos) & letter != 0 { pos += 1 }
                        ends.append(pos)
                        continue
                    }
                    // ?\p{N}+
                    if flags2 & number != 0 {
                        if cpt == 0x20 { pos += 1 }
                        while cls(pos) & number != 0 { pos += 1 }
                        ends.append(pos)
                        continue
                    }
                    // ?[^\s\p{L}\p{N}]+
                    if flags2 != 0, flags2 & wordClasses == 0 {
                        if cpt == 0x20 { pos += 1 }
                        while cls(pos) != 0, cls(pos) & wordClasses == 0 { pos += 1 }
                        ends.append(pos)
                        continue
                    }
                    var spaces = 0
                    while cls(pos + spaces) & whitespace != 0 { spaces += 1 }
                    if spaces > 1, pos + spaces < end {
                        // \s+(?!\S): the last whitespace scalar goes with what follows.
                        pos += spaces - 1
                    } else if spaces > 0 {
                        // \s+
                        pos += spaces
                    } else {
                        pos += 1
                    }
                    ends.append(pos)
                }
            }
        }
    }

    /// Where the piece starting at `start` ends under `\s*[\r\n]+|\s+(?!\S)|\s+` (Llama 3's and Tekken's last
    /// alternatives), or one scalar on when none matches.
    static func whitespacePieceEnd(_ text: ScalarText, from start: Int, end: Int) -> Int {
        var spaces = 0
        var lineBreakEnd = -1
        while start + spaces < end, text.classes[start + spaces] & whitespace != 0 {
            let value = text.values[start + spaces]
            if value == 0x0A || value == 0x0D { lineBreakEnd = start + spaces + 1 }
            spaces += 1
        }
        if lineBreakEnd >= 0 { return lineBreakEnd }                // \s*[\r\n]+
        if spaces > 1, start + spaces < end { return start + spaces - 1 }  // \s+(?!\S)
        return start + max(spaces, 1)                               // \s+, or one scalar
    }

    /// Llama 3's expression over `start..<end`; `maxDigits` is 3 for `\p{N}{1,3}` and 1 for Qwen2's `\p{N}`.
    static func splitLlama3(_ text: ScalarText, start: Int, end: Int, maxDigits: Int, into ends: inout [Int]) {
        text.values.withUnsafeBufferPointer { values in
            text.classes.withUnsafeBufferPointer { classes in
                @inline(__always) func cls(_ index: Int) -> UInt8 { index < end ? classes[index] : 0 }
                @inline(__always) func isLineBreak(_ index: Int) -> Bool {
                    index < end && (values[index] == 0x0A || values[index] == 0x0D)
                }
                @inline(__always) func asciiLower(_ value: UInt32) -> UInt32 {
                    value &- 0x41 < 26 ? value + 0x20 : value
                }
                var pos = start
                while pos < end {
                    let cpt = values[pos]
                    let flags = classes[pos]
                    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                    if cpt == 0x27, pos + 1 < end {
                        let next = asciiLower(values[pos + 1])
                        if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {
                            pos += 2
                            ends.append(pos)
                            continue
                        }
                        if pos + 2 < end {
                            let nextNext = asciiLower(values[pos + 2])
                            if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65)
                                || (next == 0x6C && nextNext == 0x6C)
                            {
                                pos += 3
                                ends.append(pos)
                                continue
                            }
                        }
                    }
                    // [^\r\n\p{L}\p{N}]?\p{L}+
                    if !(cpt == 0x0D || cpt == 0x0A || flags & number != 0) {
                        if flags & letter != 0 || cls(pos + 1) & letter != 0 {
                            pos += 1
                            while cls(pos) & letter != 0 { pos += 1 }
                            ends.append(pos)
                            continue
                        }
                    }
                    // \p{N}{1,maxDigits}
                    if flags & number != 0 {
                        var runStart = pos
                        while cls(pos) & number != 0 {
                            pos += 1
                            if pos - runStart >= maxDigits {
                                ends.append(pos)
                                runStart = pos
                            }
                        }
                        if pos > runStart { ends.append(pos) }
                        continue
                    }
                    // ?[^\s\p{L}\p{N}]+[\r\n]*
                    let flags2 = cpt == 0x20 ? cls(pos + 1) : flags
                    if flags2 & wordClasses == 0 {
                        if cpt == 0x20 { pos += 1 }
                        while cls(pos) != 0, cls(pos) & wordClasses == 0 { pos += 1 }
                        while isLineBreak(pos) { pos += 1 }
                        ends.append(pos)
                        continue
                    }
                    pos = whitespacePieceEnd(text, from: pos, end: end)
                    ends.append(pos)
                }
            }
        }
    }
}

extension BPEPreTokenizer {
    /// Tekken's case classes of a scalar: `upper` for `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`, `lower` for
    /// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]` (modifier and other letters and marks are both).
    private struct CaseClass: OptionSet {
        let rawValue: UInt8
        static let upper = CaseClass(rawValue: 1)
        static let lower = CaseClass(rawValue: 2)

        init(rawValue: UInt8) { self.rawValue = rawValue }

        init(_ value: UInt32) {
            if value < 0x80 {
                self = value &- 0x41 < 26 ? .upper : value &- 0x61 < 26 ? .lower : []
                return
            }
            guard let scalar = Unicode.Scalar(value) else {
                self = []
                return
            }
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .titlecaseLetter: self = .upper
            case .lowercaseLetter: self = .lower
            case .modifierLetter, .otherLetter, .nonspacingMark, .spacingMark, .enclosingMark: self = [.upper, .lower]
            default: self = []
            }
        }
    }

    /// Tekken's expression over `start..<end` (see `BPEPreTokenizer.tekken`).
    static func splitTekken(_ text: ScalarText, start: Int, end: Int, into ends: inout [Int]) {
        let values = text.values, classes = text.classes
        @inline(__always) func cls(_ index: Int) -> UInt8 { index < end ? classes[index] : 0 }
        @inline(__always) func cased(_ index: Int) -> CaseClass { index < end ? CaseClass(values[index]) : [] }
        @inline(__always) func isLineBreak(_ index: Int) -> Bool {
            index < end && (values[index] == 0x0A || values[index] == 0x0D)
        }
        /// Where `U*L+` (then, failing that, `U+L*`) starting at `from` ends, or nil when neither matches.
        func caseRun(from: Int) -> Int? {
            var upper = from
            while cased(upper).contains(.upper) { upper += 1 }
            // U* is greedy and gives back one scalar at a time until L+ can start.
            var split = upper
            while split >= from {
                if cased(split).contains(.lower) {
                    var stop = split
                    while cased(stop).contains(.lower) { stop += 1 }
                    return stop
                }
                split -= 1
            }
            // U+L*: every upper scalar, then any lower ones (none can follow, or U*L+ would have matched).
            return upper > from ? upper : nil
        }
        var pos = start
        while pos < end {
            let cpt = values[pos]
            let flags = classes[pos]
            // [^\r\n\p{L}\p{N}]? then U*L+ or U+L*: first with the optional scalar, then without it.
            if cpt != 0x0A, cpt != 0x0D, flags & (letter | number) == 0, let stop = caseRun(from: pos + 1) {
                pos = stop
                ends.append(pos)
                continue
            }
            if let stop = caseRun(from: pos) {
                pos = stop
                ends.append(pos)
                continue
            }
            // \p{N}
            if flags & number != 0 {
                pos += 1
                ends.append(pos)
                continue
            }
            // ?[^\s\p{L}\p{N}]+[\r\n/]*
            let flags2 = cpt == 0x20 ? cls(pos + 1) : flags
            if flags2 != 0, flags2 & wordClasses == 0 {
                if cpt == 0x20 { pos += 1 }
                while cls(pos) != 0, cls(pos) & wordClasses == 0 { pos += 1 }
                while isLineBreak(pos) || (pos < end && values[pos] == 0x2F) { pos += 1 }
                ends.append(pos)
                continue
            }
            pos = whitespacePieceEnd(text, from: pos, end: end)
            ends.append(pos)
        }
    }

    /// The pieces this pre-tokenizer splits `text` into (no special-token handling).
    package func pieces(of text: String) -> [String] {
        var text = text
        return text.withUTF8 { bytes in
            var scalars = ScalarText()
            scalars.load(bytes, range: 0..<bytes.count)
            var ends: [Int] = []
            split(scalars, into: &ends)
            var start = 0
            return ends.map { end in
                defer { start = end }
                return String(decoding: bytes[scalars.byteOffsets[start]..<scalars.byteOffsets[end]], as: UTF8.self)
            }
        }
    }
}
