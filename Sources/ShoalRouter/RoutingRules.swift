internal import Foundation

/// What a routing rule may look at.
public struct RuleInput: Sendable, Equatable {
    /// Prompt size in tokens (estimated as characters / 4, rounded up, when no tokenizer is at hand).
    public var promptTokens: Int
    /// The text of the last `user` message (chat) or the prompt (completions).
    public var lastUserMessage: String
    /// Request headers, names lowercased.
    public var headers: [String: String]

    public init(promptTokens: Int, lastUserMessage: String = "", headers: [String: String] = [:]) {
        self.promptTokens = promptTokens
        self.lastUserMessage = lastUserMessage
        var lowered: [String: String] = [:]
        for (name, value) in headers { lowered[name.lowercased()] = value }
        self.headers = lowered
    }

    /// The token estimate for `characters` characters without a tokenizer: ceil(characters / 4).
    public static func estimatedTokens(characters: Int) -> Int {
        (max(0, characters) + 3) / 4
    }
}

/// One rule of a model alias: when `condition` holds, the request goes to `target`, or to `fallback` when the
/// target pool has no healthy replica.
public struct RoutingRule: Sendable {
    public enum Condition: Sendable, Equatable {
        /// Always matches (a catch-all last rule).
        case always
        /// Prompt tokens in `atLeast ..< below` (either bound optional).
        case promptTokens(atLeast: Int?, below: Int?)
        /// The last user message matches this regular expression (Swift `Regex` syntax) anywhere.
        case lastUserMessage(matches: String)
        /// The header is present (and equal to `value`, case-sensitively, when one is given).
        case header(name: String, value: String?)
    }

    /// A pool and its share of a weighted split.
    public struct WeightedPool: Sendable, Equatable {
        public var pool: String
        public var weight: Double

        public init(pool: String, weight: Double) {
            self.pool = pool
            self.weight = weight
        }
    }

    public enum Target: Sendable, Equatable {
        case pool(String)
        /// A weighted random choice (for example 60/40), drawn with the router's seeded generator.
        case split([WeightedPool])
        /// The pool named by this header's value.
        case headerValue(String)
    }

    public var condition: Condition
    public var target: Target
    public var fallback: String?
    /// Used in logs and the decision counter; defaults to the rule's text form.
    public var name: String

    /// - Throws: `RouterError` for a bad regular expression or weights that are not positive.
    public init(condition: Condition, target: Target, fallback: String? = nil, name: String? = nil) throws {
        self.condition = condition
        self.target = target
        self.fallback = fallback
        if case .lastUserMessage(let pattern) = condition {
            do {
                _ = try Regex(pattern)
            } catch {
                throw RouterError(.invalidRule, "bad regular expression '\(pattern)': \(error)")
            }
        }
        if case .split(let pools) = target {
            guard !pools.isEmpty, pools.allSatisfy({ $0.weight > 0 && $0.weight.isFinite }) else {
                throw RouterError(.invalidRule, "a split needs pools with positive weights")
            }
        }
        self.name = name ?? Self.describe(condition: condition, target: target, fallback: fallback)
    }

    /// Whether the condition holds for `input`.
    public func matches(_ input: RuleInput) -> Bool {
        switch condition {
        case .always:
            return true
        case .promptTokens(let atLeast, let below):
            if let atLeast, input.promptTokens < atLeast { return false }
            if let below, input.promptTokens >= below { return false }
            return true
        case .lastUserMessage(let pattern):
            // Compiled per use: `Regex` is not Sendable, and one compile is nothing next to a generation.
            guard let regex = try? Regex(pattern) else { return false }
            return (try? regex.firstMatch(in: input.lastUserMessage)) != nil
        case .header(let name, let value):
            guard let present = input.headers[name.lowercased()] else { return false }
            return value == nil || present == value
        }
    }

    static func describe(condition: Condition, target: Target, fallback: String?) -> String {
        let left: String
        switch condition {
        case .always: left = "*"
        case .promptTokens(let atLeast?, nil): left = "tokens>=\(atLeast)"
        case .promptTokens(nil, let below?): left = "tokens<\(below)"
        case .promptTokens(let atLeast, let below): left = "tokens:\(atLeast ?? 0)..<\(below.map(String.init) ?? "")"
        case .lastUserMessage(let pattern): left = "regex:\(pattern)"
        case .header(let name, let value?): left = "header:\(name)=\(value)"
        case .header(let name, nil): left = "header:\(name)"
        }
        let right: String
        switch target {
        case .pool(let pool): right = pool
        case .split(let pools): right = pools.map { "\($0.pool):\(formatWeight($0.weight))" }.joined(separator: ",")
        case .headerValue: right = "$header"
        }
        return left + "->" + right + (fallback.map { "|" + $0 } ?? "")
    }

    private static func formatWeight(_ weight: Double) -> String {
        weight == weight.rounded() && abs(weight) < 1e15 ? String(Int(weight)) : String(weight)
    }
}

/// Where the rules sent a request.
public struct RuleDecision: Sendable, Equatable {
    public var pool: String
    /// Index of the rule that matched.
    public var ruleIndex: Int
    public var ruleName: String
    /// Whether the rule's fallback was taken because its pool had no healthy replica.
    public var usedFallback: Bool

    public init(pool: String, ruleIndex: Int, ruleName: String, usedFallback: Bool) {
        self.pool = pool
        self.ruleIndex = ruleIndex
        self.ruleName = ruleName
        self.usedFallback = usedFallback
    }
}

/// A model alias (`auto`) and its rules, evaluated in order; the first that matches decides.
public struct RoutingRules: Sendable {
    public var alias: String
    public var rules: [RoutingRule]

    public init(alias: String, rules: [RoutingRule]) {
        self.alias = alias
        self.rules = rules
    }

    /// The pools the rules can send to (targets and fallbacks; header-named pools excluded).
    public var pools: Set<String> {
        var pools = Set<String>()
        for rule in rules {
            switch rule.target {
            case .pool(let pool): pools.insert(pool)
            case .split(let weighted): for entry in weighted { pools.insert(entry.pool) }
            case .headerValue: break
            }
            if let fallback = rule.fallback { pools.insert(fallback) }
        }
        return pools
    }

    /// The decision for `input`, or nil when no rule matches.
    /// - Parameters:
    ///   - isPoolHealthy: whether a pool has at least one replica that may take a request.
    ///   - random: draws weighted splits (seeded in tests).
    public func evaluate(_ input: RuleInput, isPoolHealthy: (String) -> Bool,
                         random: inout some RandomNumberGenerator) -> RuleDecision? {
        for (index, rule) in rules.enumerated() where rule.matches(input) {
            let pool: String
            switch rule.target {
            case .pool(let name):
                pool = name
            case .headerValue(let header):
                guard let value = input.headers[header.lowercased()], !value.isEmpty else { continue }
                pool = value
            case .split(let weighted):
                let total = weighted.reduce(0) { $0 + $1.weight }
                var draw = Double.random(in: 0..<total, using: &random)
                var chosen = weighted[weighted.count - 1].pool
                for entry in weighted {
                    if draw < entry.weight {
                        chosen = entry.pool
                        break
                    }
                    draw -= entry.weight
                }
                pool = chosen
            }
            if !isPoolHealthy(pool), let fallback = rule.fallback, isPoolHealthy(fallback) {
                return RuleDecision(pool: fallback, ruleIndex: index, ruleName: rule.name, usedFallback: true)
            }
            return RuleDecision(pool: pool, ruleIndex: index, ruleName: rule.name, usedFallback: false)
        }
        return nil
    }

    /// Parses `ALIAS=RULE;RULE;...` (the `--alias` option).
    ///
    /// A rule is `CONDITION->TARGET[|FALLBACK]`. Conditions: `*`, `tokens<N`, `tokens>=N`, `regex:PATTERN`,
    /// `header:NAME` or `header:NAME=VALUE`. Targets: `POOL`, a split `POOL:WEIGHT,POOL:WEIGHT`, or `$header`
    /// (the value of the rule's header names the pool). Example:
    /// `auto=header:X-Shoal-Pool->$header;tokens>=512->big|small;regex:(?i)code->big|small;*->small:60,big:40`.
    /// - Throws: `RouterError` naming the part that could not be parsed.
    public static func parse(_ spec: String) throws -> RoutingRules {
        guard let equals = spec.firstIndex(of: "=") else {
            throw RouterError(.invalidRule, "alias '\(spec)' must look like NAME=RULE;RULE")
        }
        let alias = spec[..<equals].trimmingSpaces
        guard !alias.isEmpty else { throw RouterError(.invalidRule, "alias '\(spec)' has no name") }
        var rules: [RoutingRule] = []
        for part in spec[spec.index(after: equals)...].split(separator: ";") where !part.trimmingSpaces.isEmpty {
            rules.append(try parseRule(String(part)))
        }
        guard !rules.isEmpty else { throw RouterError(.invalidRule, "alias '\(alias)' has no rules") }
        return RoutingRules(alias: alias, rules: rules)
    }

    /// Parses one `CONDITION->TARGET[|FALLBACK]`.
    public static func parseRule(_ text: String) throws -> RoutingRule {
        guard let arrow = text.range(of: "->", options: .backwards) else {
            throw RouterError(.invalidRule, "rule '\(text)' must look like CONDITION->POOL")
        }
        let left = text[..<arrow.lowerBound].trimmingSpaces
        let right = text[arrow.upperBound...]
        let targetParts = right.split(separator: "|", maxSplits: 1).map { $0.trimmingSpaces }
        guard let targetText = targetParts.first, !targetText.isEmpty else {
            throw RouterError(.invalidRule, "rule '\(text)' has no target pool")
        }
        let fallback = targetParts.count > 1 && !targetParts[1].isEmpty ? targetParts[1] : nil

        let condition: RoutingRule.Condition
        var headerName: String?
        if left == "*" || left.isEmpty {
            condition = .always
        } else if left.hasPrefix("tokens>=") {
            condition = .promptTokens(atLeast: try number(left.dropFirst(8), in: text), below: nil)
        } else if left.hasPrefix("tokens<") {
            condition = .promptTokens(atLeast: nil, below: try number(left.dropFirst(7), in: text))
        } else if left.hasPrefix("regex:") {
            condition = .lastUserMessage(matches: String(left.dropFirst(6)))
        } else if left.hasPrefix("header:") {
            let body = left.dropFirst(7)
            let pieces = body.split(separator: "=", maxSplits: 1).map(String.init)
            guard let name = pieces.first, !name.isEmpty else {
                throw RouterError(.invalidRule, "rule '\(text)': header condition needs a name")
            }
            headerName = name
            condition = .header(name: name, value: pieces.count > 1 ? pieces[1] : nil)
        } else {
            throw RouterError(.invalidRule,
                              "rule '\(text)': unknown condition '\(left)' (use *, tokens<N, tokens>=N, regex:RE, header:NAME[=VALUE])")
        }

        let target: RoutingRule.Target
        if targetText == "$header" {
            guard let headerName else {
                throw RouterError(.invalidRule, "rule '\(text)': $header needs a header:NAME condition")
            }
            target = .headerValue(headerName)
        } else if targetText.contains(":") || targetText.contains(",") {
            var pools: [RoutingRule.WeightedPool] = []
            for entry in targetText.split(separator: ",") {
                let pieces = entry.split(separator: ":", maxSplits: 1)
                guard pieces.count == 2, let weight = Double(pieces[1].trimmingSpaces), weight > 0 else {
                    throw RouterError(.invalidRule, "rule '\(text)': split entry '\(entry)' must be POOL:WEIGHT")
                }
                pools.append(.init(pool: pieces[0].trimmingSpaces, weight: weight))
            }
            target = .split(pools)
        } else {
            target = .pool(targetText)
        }
        return try RoutingRule(condition: condition, target: target, fallback: fallback)
    }

    private static func number(_ text: Substring, in rule: String) throws -> Int {
        guard let value = Int(text.trimmingSpaces), value >= 0 else {
            throw RouterError(.invalidRule, "rule '\(rule)': '\(text)' is not a token count")
        }
        return value
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
