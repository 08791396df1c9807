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
                    var spaces = 0
                    var lineBreakEnd = -1
                    while cls(pos + spaces) & whitespace != 0 {
                        if isLineBreak(pos + spaces) { lineBreakEnd = pos + spaces + 1 }
                        spaces += 1
                    }
                    if lineBreakEnd >= 0 {
                        // \s*[\r\n]+
                        pos = lineBreakEnd
                    } else if spaces > 1, pos + spaces < end {
                        // \s+(?!\S)
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
}

extension BPEPreTokenizer {
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
