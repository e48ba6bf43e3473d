/// A JSON Schema `pattern` as a GBNF expression for the inside of a JSON string: the characters it produces
/// are JSON string content (a `"` or `\` the pattern asks for comes out escaped, and `.` or a negated class
/// never yields a quote, a backslash or a control character). Supported: literals, escaped metacharacters,
/// classes (`[a-z]`, `[^…]`), `.`, `\d \w \s` and their negations, groups (`(…)`, `(?:…)`), `|`, and the
/// quantifiers `* + ? {n} {n,} {n,m}`; `^` and `$` at the ends. JSON Schema patterns are not anchored, so
/// producing exactly the pattern is always a valid answer.
struct RegexToGrammar {
    private let characters: [Character]
    private var index = 0
    private var path = ""

    init(_ pattern: String) { characters = Array(pattern) }

    private static let safe = #"[^"\\\x7F\x00-\x1F]"#

    mutating func parse(path: String) throws(EngineError) -> String {
        self.path = path
        var end = characters.count
        if characters.first == "^" { index = 1 }
        if end > index, characters[end - 1] == "$", end < 2 || characters[end - 2] != "\\" { end -= 1 }
        let body = try alternation(until: end)
        guard index == end else { throw refuse("unexpected '\(characters[index])'") }
        return body.isEmpty ? "\"\"" : body
    }

    private func refuse(_ why: String) -> EngineError {
        EngineError(.unsupported, "JSON schema keyword 'pattern' at \(path) cannot be enforced: \(why)")
    }

    private mutating func alternation(until end: Int) throws(EngineError) -> String {
        var branches = [try sequence(until: end)]
        while index < end, characters[index] == "|" {
            index += 1
            branches.append(try sequence(until: end))
        }
        let written = branches.map { $0.isEmpty ? "\"\"" : $0 }
        return written.count == 1 ? written[0] : "( " + written.joined(separator: " | ") + " )"
    }

    private mutating func sequence(until end: Int) throws(EngineError) -> String {
        var items: [String] = []
        while index < end, characters[index] != "|", characters[index] != ")" {
            var atom = try self.atom(until: end)
            if index < end, let quantifier = try self.quantifier(until: end) { atom = "( \(atom) )\(quantifier)" }
            items.append(atom)
        }
        return items.joined(separator: " ")
    }

    private mutating func quantifier(until end: Int) throws(EngineError) -> String? {
        let c = characters[index]
        var result: String?
        switch c {
        case "*", "+", "?":
            index += 1
            result = String(c)
        case "{":
            guard let close = characters[index..<end].firstIndex(of: "}") else { throw refuse("unclosed '{'") }
            let inside = String(characters[(index + 1)..<close])
            let parts = inside.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard (1...2).contains(parts.count), let low = Int(parts[0]),
                parts.count == 1 || parts[1].isEmpty || Int(parts[1]) != nil
            else { throw refuse("bad repetition {\(inside)}") }
            if parts.count == 2, let high = Int(parts[1]), high < low { throw refuse("bad repetition {\(inside)}") }
            index = close + 1
            result = "{\(inside)}"
        default: return nil
        }
        if index < end, characters[index] == "?" { index += 1 }  // lazy: the same strings
        if index < end, "*+?{".contains(characters[index]) { throw refuse("a quantifier after a quantifier") }
        return result
    }

    private mutating func atom(until end: Int) throws(EngineError) -> String {
        let c = characters[index]
        index += 1
        switch c {
        case "(":
            if index < end, characters[index] == "?" {
                guard index + 1 < end, characters[index + 1] == ":" else { throw refuse("lookarounds and named groups") }
                index += 2
            }
            let inner = try alternation(until: end)
            guard index < end, characters[index] == ")" else { throw refuse("unclosed '('") }
            index += 1
            return "( \(inner.isEmpty ? "\"\"" : inner) )"
        case ".": return Self.safe
        case "[": return try characterClass(until: end)
        case "\\":
            guard index < end else { throw refuse("a trailing backslash") }
            let escaped = characters[index]
            index += 1
            if let shorthand = Self.shorthand(escaped) { return shorthand }
            guard !escaped.isLetter, !escaped.isNumber else { throw refuse("the escape \\\(escaped)") }
            return Self.literal(escaped)
        case "^", "$": throw refuse("anchors inside the pattern")
        case "*", "+", "?", "{": throw refuse("a quantifier with nothing before it")
        default: return Self.literal(c)
        }
    }

    private static func shorthand(_ c: Character) -> String? {
        switch c {
        case "d": "[0-9]"
        case "w": "[a-zA-Z0-9_]"
        case "s": "\" \""
        case "D": #"[^0-9"\\\x7F\x00-\x1F]"#
        case "W": #"[^a-zA-Z0-9_"\\\x7F\x00-\x1F]"#
        case "S": #"[^ \t\n\r\f\v"\\\x7F\x00-\x1F]"#
        default: nil
        }
    }

    /// One character as JSON string content, as a GBNF literal.
    private static func literal(_ c: Character) -> String {
        switch c {
        case "\"": #""\\\"""#
        case "\\": #""\\\\""#
        default: JSONSchemaGrammar.gbnfLiteral(String(c))
        }
    }

    private mutating func characterClass(until end: Int) throws(EngineError) -> String {
        var negated = false
        if index < end, characters[index] == "^" {
            negated = true
            index += 1
        }
        var body = ""
        var first = true
        while index < end, characters[index] != "]" || first {
            var c = characters[index]
            index += 1
            first = false
            if c == "\\" {
                guard index < end else { throw refuse("a trailing backslash") }
                c = characters[index]
                index += 1
                switch c {
                case "d": body += "0-9"
                case "w": body += "a-zA-Z0-9_"
                case "s": body += " "
                case "-", "]", "[", "^", ".", "/", "(", ")", "{", "}", "|", "+", "*", "?", "$": body += "\\" + String(c)
                default: throw refuse("the escape \\\(c) in a class")
                }
                continue
            }
            guard c != "\"", c != "\\", let ascii = c.asciiValue, ascii >= 0x20, ascii != 0x7F || !c.isASCII else {
                if !c.isASCII { body += String(c); continue }
                throw refuse("a class with a quote, a backslash or a control character")
            }
            body += c == "[" || c == "^" ? "\\" + String(c) : String(c)
        }
        guard index < end, characters[index] == "]" else { throw refuse("unclosed '['") }
        index += 1
        return negated ? #"[^\#(body)"\\\x7F\x00-\x1F]"# : "[\(body)]"
    }
}
