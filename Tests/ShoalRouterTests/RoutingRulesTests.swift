import ShoalRouter
import Testing

@Suite struct RoutingRulesTests {
    let spec = #"auto=header:X-Shoal-Pool->$header;tokens>=512->big|small;regex:(?i)\b(code|prove)\b->big|small;*->small:60,big:40"#

    func evaluate(_ rules: RoutingRules, _ input: RuleInput, healthy: Set<String> = ["small", "big"],
                  seed: UInt64 = 1) -> RuleDecision? {
        var random = RouterRandom(seed: seed)
        return rules.evaluate(input, isPoolHealthy: { healthy.contains($0) }, random: &random)
    }

    @Test func parsesTheAliasSyntax() throws {
        let rules = try RoutingRules.parse(spec)
        #expect(rules.alias == "auto")
        #expect(rules.rules.count == 4)
        #expect(rules.rules[0].target == .headerValue("X-Shoal-Pool"))
        #expect(rules.rules[1].condition == .promptTokens(atLeast: 512, below: nil))
        #expect(rules.rules[1].fallback == "small")
        #expect(rules.rules[3].target == .split([.init(pool: "small", weight: 60), .init(pool: "big", weight: 40)]))
        #expect(rules.pools == ["small", "big"])
        #expect(rules.rules[1].name == "tokens>=512->big|small")
    }

    @Test(arguments: ["auto", "auto=", "auto=tokens<x->a", "auto=bogus->a", "auto=*->a:0,b:1", "auto=regex:(->a",
                      "auto=*->$header"])
    func refusesMalformedSpecs(spec: String) {
        #expect(throws: RouterError.self) { try RoutingRules.parse(spec) }
    }

    @Test func rulesAreEvaluatedInOrder() throws {
        let rules = try RoutingRules.parse(spec)
        let header = evaluate(rules, RuleInput(promptTokens: 2000, headers: ["x-shoal-pool": "tiny"]))
        #expect(header?.pool == "tiny" && header?.ruleIndex == 0)
        let long = evaluate(rules, RuleInput(promptTokens: 512, lastUserMessage: "write code"))
        #expect(long?.pool == "big" && long?.ruleIndex == 1)
        let code = evaluate(rules, RuleInput(promptTokens: 20, lastUserMessage: "Please PROVE this"))
        #expect(code?.pool == "big" && code?.ruleIndex == 2)
        let plain = evaluate(rules, RuleInput(promptTokens: 20, lastUserMessage: "hello there"))
        #expect(plain?.ruleIndex == 3)
    }

    @Test func fallbackWhenThePoolHasNoHealthyReplica() throws {
        let rules = try RoutingRules.parse(spec)
        let decision = evaluate(rules, RuleInput(promptTokens: 1000), healthy: ["small"])
        #expect(decision == RuleDecision(pool: "small", ruleIndex: 1, ruleName: "tokens>=512->big|small", usedFallback: true))
        // No healthy fallback either: the primary stands (the gateway answers 503).
        #expect(evaluate(rules, RuleInput(promptTokens: 1000), healthy: [])?.pool == "big")
    }

    @Test(arguments: [11, 12] as [UInt64])
    func weightedSplitFollowsTheWeights(seed: UInt64) throws {
        let rules = try RoutingRules.parse("auto=*->small:60,big:40")
        var random = RouterRandom(seed: seed)
        var small = 0
        for _ in 0..<10_000 {
            let decision = rules.evaluate(RuleInput(promptTokens: 1), isPoolHealthy: { _ in true }, random: &random)
            if decision?.pool == "small" { small += 1 }
        }
        #expect(abs(Double(small) / 10_000 - 0.6) < 0.02, "seed \(seed): \(small)")
    }

    @Test func tokenEstimateAndNoMatch() throws {
        #expect(RuleInput.estimatedTokens(characters: 0) == 0)
        #expect(RuleInput.estimatedTokens(characters: 5) == 2)
        #expect(RuleInput.estimatedTokens(characters: 2048) == 512)
        let rules = try RoutingRules.parse("auto=tokens<100->small")
        #expect(evaluate(rules, RuleInput(promptTokens: 100)) == nil)
        #expect(evaluate(rules, RuleInput(promptTokens: 99))?.pool == "small")
    }
}
