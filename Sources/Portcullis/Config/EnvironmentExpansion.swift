/// Expands `${VAR}` and `${VAR:-default}` in configuration text before it is parsed, so
/// secrets and per-host values (addresses, limits) can stay out of the file.
///
/// Expansion knows where it is: inside a basic string the value is escaped, inside a literal
/// string it must not contain a quote, in a comment nothing is expanded, and as a bare value
/// (a number, say) it may only hold characters that cannot change the file's structure.
public enum EnvironmentExpansion {
    /// Returns the expanded text, or the problems found (unset variables, unsafe values).
    public static func expand(_ text: String, environment: [String: String]) -> (String, [ConfigProblem]) {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        var problems: [ConfigProblem] = []
        var context = Context.bare
        let characters = Array(text.unicodeScalars)
        var index = 0
        var line = 1
        while index < characters.count {
            let character = characters[index]
            if character == "$" && index + 1 < characters.count && characters[index + 1] == "{" && context != .comment,
               let close = characters[index...].firstIndex(of: "}") {
                let expression = String(String.UnicodeScalarView(characters[(index + 2)..<close]))
                switch resolve(expression, environment: environment) {
                case .success(let value):
                    switch quote(value, for: context) {
                    case .success(let quoted): output += quoted
                    case .failure(let message): problems.append(ConfigProblem(line: line, key: "", message: "${\(expression)}: \(message)"))
                    }
                case .failure(let message):
                    problems.append(ConfigProblem(line: line, key: "", message: message))
                }
                index = close + 1
                continue
            }
            if context == .basicString && character == "\\" && index + 1 < characters.count {
                output.unicodeScalars.append(character)
                output.unicodeScalars.append(characters[index + 1])
                index += 2
                continue
            }
            context = context.after(character)
            if character == "\n" {
                line += 1
                if context == .comment || context == .basicString || context == .literalString { context = .bare }
            }
            output.unicodeScalars.append(character)
            index += 1
        }
        return (output, problems)
    }

    private enum Context {
        case bare, comment, basicString, literalString

        func after(_ character: Unicode.Scalar) -> Context {
            switch self {
            case .bare:
                if character == "#" { return .comment }
                if character == "\"" { return .basicString }
                if character == "'" { return .literalString }
                return .bare
            case .basicString:
                return character == "\"" ? .bare : .basicString
            case .literalString:
                return character == "'" ? .bare : .literalString
            case .comment:
                return .comment
            }
        }
    }

    private enum Outcome {
        case success(String)
        case failure(String)
    }

    private static func resolve(_ expression: String, environment: [String: String]) -> Outcome {
        let name: Substring
        let fallback: Substring?
        if let separator = expression.range(of: ":-") {
            name = expression[..<separator.lowerBound]
            fallback = expression[separator.upperBound...]
        } else {
            name = Substring(expression)
            fallback = nil
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            return .failure("invalid variable reference ${\(expression)}")
        }
        if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
            return .success(value)
        }
        if let fallback { return .success(String(fallback)) }
        return .failure("environment variable \(name) is not set (use ${\(name):-default} for a default)")
    }

    private static func quote(_ value: String, for context: Context) -> Outcome {
        guard !value.contains("\n") else { return .failure("value contains a newline") }
        switch context {
        case .basicString:
            var escaped = ""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case "\t": escaped += "\\t"
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7F { return .failure("value contains a control character") }
                    escaped.unicodeScalars.append(scalar)
                }
            }
            return .success(escaped)
        case .literalString:
            return value.contains("'") ? .failure("value contains ' inside a literal string") : .success(value)
        case .bare:
            let safe = value.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.:+-".unicodeScalars.contains($0) }
            return safe ? .success(value) : .failure("value \"\(value)\" is not a plain number or word; quote the reference")
        case .comment:
            return .success("")
        }
    }
}
