/// Reads a `[[rate_limits]]` table the way an operator reviewing it would, and finds the rules
/// that cannot do what they seem to: a fallback that another rule always pre-empts, a fallback
/// that is not at the end, and a rule that can never be the one that rejects because another
/// rule counts all of its requests, by the same key and window, with a limit no higher.
/// `portcullis check` prints these as warnings; the configuration stays valid.
enum RateLimitRuleReview {
    /// A warning about one rule: its key path (`rate_limits[3]`) and what is wrong.
    struct Warning: Equatable {
        let key: String
        let message: String
    }

    static func warnings(_ rules: [RateLimitRuleSettings], caseInsensitivePaths: Bool) -> [Warning] {
        let patterns = rules.map { PathPattern($0.match, caseInsensitive: caseInsensitivePaths) }
        var warnings: [Warning] = []
        for (index, rule) in rules.enumerated() {
            guard let pattern = patterns[index] else { continue }
            let path = "rate_limits[\(index)]"
            if rule.fallback {
                if let later = rules[(index + 1)...].first(where: { !$0.fallback }) {
                    warnings.append(Warning(key: path, message: "fallback rule \"\(rule.name)\" is followed by rule \"\(later.name)\": "
                        + "put fallbacks last, where they read as what they are (it still counts only requests no other rule matches)"))
                }
                if let shadow = rules.indices.first(where: { !rules[$0].fallback && patterns[$0]?.covers(pattern) == true }) {
                    warnings.append(Warning(key: path, message: "fallback rule \"\(rule.name)\" never applies: rule \"\(rules[shadow].name)\" "
                        + "matches every request it matches, and a fallback counts only requests no other rule matches"))
                }
                continue
            }
            let stricter = rules.indices.first { other in
                guard other != index, !rules[other].fallback, let otherPattern = patterns[other],
                      rules[other].key == rule.key, rules[other].window == rule.window, rules[other].limit <= rule.limit,
                      otherPattern.covers(pattern) else { return false }
                // Two rules that cover each other with one limit: only the later one is redundant.
                return !(rules[other].limit == rule.limit && pattern.covers(otherPattern) && other > index)
            }
            if let stricter {
                let hint = patterns[stricter]!.matchesEverything
                    ? " (if \"\(rules[stricter].name)\" is meant as the default for the endpoints no rule names, set fallback = true on it)" : ""
                warnings.append(Warning(key: path, message: "rule \"\(rule.name)\" (limit \(rule.limit)) can never be the one that rejects: "
                    + "rule \"\(rules[stricter].name)\" counts every request it matches by the same key and window "
                    + "with a limit of \(rules[stricter].limit)\(hint)"))
            }
        }
        return warnings
    }
}
