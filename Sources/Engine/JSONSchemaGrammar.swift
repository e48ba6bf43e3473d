import Foundation

/// A JSON Schema compiled into a llama.cpp grammar (GBNF) whose every sentence is a JSON text that validates
/// against the schema. The grammar may allow less than the schema (only declared properties, in one order;
/// no free whitespace inside strings), never more: a keyword it cannot enforce is refused by name.
///
/// Supported: `type` (one or a list), `properties`, `required`, `additionalProperties` (false, true, or a
/// schema for a map without properties), `items`, `minItems`, `maxItems`, `enum`, `const`, `minLength`,
/// `maxLength`, `pattern` (literals, classes, `.`, `\d\w\s`, groups, `|`, `*+?{m,n}`), `format` (date, time,
/// date-time, uuid), `minimum: 0` on numbers, `anyOf`, `oneOf` (as anyOf), `allOf` of object schemas, `$ref`
/// to `#/$defs/…` or `#/definitions/…` (recursion too), `nullable`; annotations are ignored.
struct JSONSchemaGrammar {
    private var rules: [String: String] = [:]
    private var order: [String] = []
    /// `$ref` targets already given a rule.
    var references: [String: String] = [:]
    /// The schema `$ref`s resolve in.
    var root: [String: Any]

    static func compile(_ text: String) throws(EngineError) -> String {
        guard let data = text.data(using: .utf8),
            let schema = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        else { throw EngineError(.invalidRequest, "the JSON schema is not valid JSON") }
        var compiler = JSONSchemaGrammar(root: schema as? [String: Any] ?? [:])
        let value = try compiler.expression(schema, at: "#")
        compiler.define("root", value)
        return compiler.rendered
    }

    init(root: [String: Any]) { self.root = root }

    /// The rules in the order they were named.
    var rendered: String { order.map { "\($0) ::= \(rules[$0]!)" }.joined(separator: "\n") + "\n" }

    private static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "$defs", "definitions",
    ]
    private static let supported: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
        "minLength", "maxLength", "pattern", "format", "minimum", "anyOf", "oneOf", "allOf", "$ref", "nullable",
    ]

    private static func unsupported(_ keyword: String, _ path: String, _ why: String = "") -> EngineError {
        EngineError(
            .unsupported, "JSON schema keyword '\(keyword)' at \(path) cannot be enforced\(why.isEmpty ? "" : ": \(why)")")
    }

    // MARK: Rules

    mutating func define(_ name: String, _ body: String) {
        if rules[name] == nil { order.append(name) }
        rules[name] = body
    }

    /// A fresh rule name from a hint (letters, digits and dashes only).
    mutating func name(_ hint: String) -> String {
        var base = String(hint.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
        while base.contains("--") { base = base.replacingOccurrences(of: "--", with: "-") }
        base = base.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        if base.isEmpty || base.first!.isNumber { base = "r-" + base }
        var candidate = base
        var counter = 1
        while rules[candidate] != nil || Self.primitives[candidate] != nil || candidate == "root" {
            counter += 1
            candidate = "\(base)-\(counter)"
        }
        rules[candidate] = ""  // reserved
        order.append(candidate)
        return candidate
    }

    /// The shared rules for plain JSON values, added when first used.
    private static let primitives: [String: String] = [
        "ws": #"( " " | "\n" [ ]{0,8} )?"#,
        "char": #"[^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )"#,
        "string": #""\"" char* "\"" ws"#,
        "integer": #""-"? ( "0" | [1-9] [0-9]{0,15} ) ws"#,
        "number": #""-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]{1,4} )? ws"#,
        "boolean": #"( "true" | "false" ) ws"#,
        "null": #""null" ws"#,
        "value": "object | array | string | number | boolean | null",
        "object": #""{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws"#,
        "array": #""[" ws ( value ( "," ws value )* )? "]" ws"#,
    ]

    mutating func primitive(_ name: String) -> String {
        guard rules[name] == nil else { return name }
        define(name, Self.primitives[name]!)
        let dependencies: [String: [String]] = [
            "string": ["char", "ws"], "integer": ["ws"], "number": ["ws"], "boolean": ["ws"], "null": ["ws"],
            "value": ["object", "array", "string", "number", "boolean", "null"], "object": ["string", "value", "ws"],
            "array": ["value", "ws"],
        ]
        for dependency in dependencies[name] ?? [] { _ = primitive(dependency) }
        return name
    }

    // MARK: Schemas

    /// A grammar expression for values of `schema` (each ends with optional whitespace).
    mutating func expression(_ schema: Any, at path: String) throws(EngineError) -> String {
        if let flag = schema as? Bool {
            guard flag else { throw Self.unsupported("false", path, "no value validates against it") }
            return primitive("value")
        }
        guard let s = schema as? [String: Any] else {
            throw EngineError(.invalidRequest, "the JSON schema at \(path) is not an object")
        }
        for key in s.keys.sorted() where !Self.annotations.contains(key) && !Self.supported.contains(key) {
            throw Self.unsupported(key, path)
        }
        if let reference = s["$ref"] {
            let others = s.keys.filter { !Self.annotations.contains($0) && $0 != "$ref" }
            if let other = others.sorted().first { throw Self.unsupported(other, path, "beside $ref") }
            return try self.reference(reference, at: path)
        }
        if s["const"] != nil || s["enum"] != nil {
            return try literals(s, at: path)
        }
        for key in ["anyOf", "oneOf"] {
            guard let branches = s[key] else { continue }
            let others = s.keys.filter { !Self.annotations.contains($0) && $0 != key }
            if let other = others.sorted().first { throw Self.unsupported(other, path, "beside \(key)") }
            guard let list = branches as? [Any], !list.isEmpty else { throw Self.unsupported(key, path, "expected a list") }
            var alternatives: [String] = []
            for (index, branch) in list.enumerated() {
                alternatives.append(try expression(branch, at: "\(path)/\(key)/\(index)"))
            }
            return "( " + alternatives.joined(separator: " | ") + " )"
        }
        if let parts = s["allOf"] {
            return try expression(try merged(parts, into: s, at: path), at: path)
        }
        var types: [String]
        switch s["type"] {
        case let type as String: types = [type]
        case let list as [String]: types = list
        case nil:
            if s["properties"] != nil || s["additionalProperties"] != nil || s["required"] != nil {
                types = ["object"]
            } else if s["items"] != nil {
                types = ["array"]
            } else if s["pattern"] != nil || s["format"] != nil || s["minLength"] != nil || s["maxLength"] != nil {
                types = ["string"]
            } else {
                return primitive("value")
            }
        default: throw Self.unsupported("type", path, "expected a name or a list of names")
        }
        if s["nullable"] as? Bool == true, !types.contains("null") { types.append("null") }
        let alternatives = try types.map { type throws(EngineError) in try typed(type, s, at: path) }
        return alternatives.count == 1 ? alternatives[0] : "( " + alternatives.joined(separator: " | ") + " )"
    }

    private mutating func typed(_ type: String, _ s: [String: Any], at path: String) throws(EngineError) -> String {
        if s["minimum"] != nil, type != "integer" && type != "number" { throw Self.unsupported("minimum", path) }
        switch type {
        case "string": return try string(s, at: path)
        case "integer", "number":
            if let minimum = s["minimum"] {
                guard (minimum as? NSNumber)?.doubleValue == 0 else {
                    throw Self.unsupported("minimum", path, "only minimum 0 is enforced")
                }
                _ = primitive("ws")
                return type == "integer"
                    ? #"( "0" | [1-9] [0-9]{0,15} ) ws"#
                    : #"( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]{1,4} )? ws"#
            }
            return primitive(type)
        case "boolean": return primitive("boolean")
        case "null": return primitive("null")
        case "object": return try object(s, at: path)
        case "array": return try array(s, at: path)
        default: throw Self.unsupported("type", path, "unknown type '\(type)'")
        }
    }

    private mutating func reference(_ value: Any, at path: String) throws(EngineError) -> String {
        guard let reference = value as? String else { throw Self.unsupported("$ref", path, "expected a string") }
        if let known = references[reference] { return known }
        let parts = reference.split(separator: "/").map(String.init)
        guard parts.count == 3, parts[0] == "#", parts[1] == "$defs" || parts[1] == "definitions",
            let definitions = root[parts[1]] as? [String: Any], let target = definitions[parts[2]]
        else { throw Self.unsupported("$ref", path, "only #/$defs/NAME and #/definitions/NAME of this schema resolve") }
        let rule = name(parts[2])
        references[reference] = rule  // before compiling the target: it may refer to itself
        define(rule, try expression(target, at: reference))
        return rule
    }

    /// `allOf` of object schemas as one object schema: properties and required lists united.
    private func merged(_ parts: Any, into schema: [String: Any], at path: String) throws(EngineError) -> [String: Any] {
        guard let list = parts as? [[String: Any]] else { throw Self.unsupported("allOf", path, "expected a list of objects") }
        var result = schema
        result["allOf"] = nil
        var properties = schema["properties"] as? [String: Any] ?? [:]
        var required = schema["required"] as? [String] ?? []
        for part in list {
            for key in part.keys where !Self.annotations.contains(key) {
                guard ["type", "properties", "required", "additionalProperties"].contains(key) else {
                    throw Self.unsupported("allOf", path, "only object schemas (properties, required) can be combined")
                }
            }
            if let type = part["type"] as? String, type != "object" {
                throw Self.unsupported("allOf", path, "only object schemas can be combined")
            }
            for (key, value) in part["properties"] as? [String: Any] ?? [:] { properties[key] = value }
            required += (part["required"] as? [String] ?? []).filter { !required.contains($0) }
        }
        result["type"] = "object"
        result["properties"] = properties
        result["required"] = required
        return result
    }

    // MARK: Objects and arrays

    private mutating func object(_ s: [String: Any], at path: String) throws(EngineError) -> String {
        let properties = s["properties"] as? [String: Any] ?? [:]
        let required = s["required"] as? [String] ?? []
        _ = primitive("ws")
        if properties.isEmpty, required.isEmpty, let additional = s["additionalProperties"] as? [String: Any] {
            // A map: any keys, each value of one schema.
            let value = try expression(additional, at: "\(path)/additionalProperties")
            let key = primitive("string")
            return #""{" ws ( \#(key) ":" ws \#(value) ( "," ws \#(key) ":" ws \#(value) )* )? "}" ws"#
        }
        if properties.isEmpty && required.isEmpty && s["additionalProperties"] == nil { return primitive("object") }
        // Required properties first, in the order `required` lists them, then the optional ones by name.
        let names = required + properties.keys.sorted().filter { !required.contains($0) }
        var members: [(text: String, optional: Bool)] = []
        for name in names {
            let value =
                try properties[name].map { schema throws(EngineError) in
                    try expression(schema, at: "\(path)/properties/\(name)")
                } ?? primitive("value")
            let key = Self.gbnfLiteral(Self.jsonText(name))
            members.append((#"\#(key) ws ":" ws \#(value)"#, !required.contains(name)))
        }
        let rule = name("\(path)-object")
        // body(i, first): the members from i on, `first` when none has been written yet (no comma).
        var bodies: [String: String] = [:]
        func body(_ index: Int, _ first: Bool) -> String {
            guard index < members.count else { return "" }
            let key = "\(index)-\(first)"
            if let known = bodies[key] { return known }
            let comma = first ? "" : #""," ws "#
            let member = "\(comma)\(members[index].text) \(body(index + 1, false))"
            let text = members[index].optional ? "( \(member) | \(body(index + 1, first)) )" : "( \(member) )"
            let ruleName = "\(rule)-\(index)\(first ? "f" : "n")"
            define(ruleName, text)
            bodies[key] = ruleName
            return ruleName
        }
        let inside = body(0, true)
        define(rule, #""{" ws \#(inside) "}" ws"#)
        return rule
    }

    private mutating func array(_ s: [String: Any], at path: String) throws(EngineError) -> String {
        let item =
            try s["items"].map { items throws(EngineError) in try expression(items, at: "\(path)/items") }
            ?? primitive("value")
        let minimum = (s["minItems"] as? Int) ?? 0
        let maximum = s["maxItems"] as? Int
        if let maximum, maximum < minimum { throw Self.unsupported("maxItems", path, "it is below minItems") }
        _ = primitive("ws")
        let rule = name("\(path)-array")
        let rest = #"( "," ws \#(item) )"#
        let body: String
        if maximum == 0 {
            body = ""
        } else if minimum == 0 {
            body = "( \(item) \(rest)\(Self.repeats(0, maximum.map { $0 - 1 })) )?"
        } else {
            body = "\(item) \(rest)\(Self.repeats(minimum - 1, maximum.map { $0 - 1 }))"
        }
        define(rule, #""[" ws \#(body) "]" ws"#)
        return rule
    }

    private static func repeats(_ minimum: Int, _ maximum: Int?) -> String {
        switch (minimum, maximum) {
        case (0, nil): "*"
        case (1, nil): "+"
        case (let m, nil): "{\(m),}"
        case (let m, let n?): m == n ? "{\(m)}" : "{\(m),\(n)}"
        }
    }

    // MARK: Strings

    private mutating func string(_ s: [String: Any], at path: String) throws(EngineError) -> String {
        _ = primitive("ws")
        let bounded = s["minLength"] != nil || s["maxLength"] != nil
        if let format = s["format"] {
            guard s["pattern"] == nil, !bounded else {
                throw Self.unsupported("format", path, "together with pattern or lengths")
            }
            guard let format = format as? String, let body = Self.formats[format] else {
                throw Self.unsupported("format", path, "only date, time, date-time and uuid are enforced")
            }
            return #""\"" \#(body) "\"" ws"#
        }
        if let pattern = s["pattern"] {
            guard !bounded else { throw Self.unsupported("pattern", path, "together with minLength or maxLength") }
            guard let pattern = pattern as? String else { throw Self.unsupported("pattern", path, "expected a string") }
            var parser = RegexToGrammar(pattern)
            let body = try parser.parse(path: path)
            return #""\"" \#(body) "\"" ws"#
        }
        guard bounded else { return primitive("string") }
        let minimum = s["minLength"] as? Int ?? 0
        let maximum = s["maxLength"] as? Int
        if let maximum, maximum < minimum { throw Self.unsupported("maxLength", path, "it is below minLength") }
        _ = primitive("char")
        return #""\"" char\#(Self.repeats(minimum, maximum)) "\"" ws"#
    }

    private static let time =
        #"( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )"#
    /// Days up to 28, which every month has (a grammar cannot tell February of a leap year).
    private static let date = #"[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] )"#
    private static let formats: [String: String] = [
        "date": date, "time": time, "date-time": "\(date) \"T\" \(time)",
        "uuid": #"[0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12}"#,
    ]

    // MARK: Literals

    /// `const` or `enum`: their values as literals, keeping those of the schema's `type` when it has one (a
    /// value of another type would not validate).
    private mutating func literals(_ s: [String: Any], at path: String) throws(EngineError) -> String {
        let keyword = s["const"] != nil ? "const" : "enum"
        let others = s.keys.filter { !Self.annotations.contains($0) && $0 != keyword && $0 != "type" }
        if let other = others.sorted().first { throw Self.unsupported(other, path, "beside \(keyword)") }
        let values: [Any]
        if let value = s["const"] {
            values = [value]
        } else {
            guard let list = s["enum"] as? [Any], !list.isEmpty else {
                throw Self.unsupported("enum", path, "expected a list of values")
            }
            values = list
        }
        let types: [String]? = (s["type"] as? String).map { [$0] } ?? s["type"] as? [String]
        let texts = values.map(Self.jsonText).filter { text in types.map { Self.text(text, isOneOf: $0) } ?? true }
        guard !texts.isEmpty else { throw Self.unsupported(keyword, path, "no value is of the schema's type") }
        _ = primitive("ws")
        return "( " + texts.map { Self.gbnfLiteral($0) + " ws" }.joined(separator: " | ") + " )"
    }

    /// Whether a JSON text is a value of one of `types`.
    private static func text(_ text: String, isOneOf types: [String]) -> Bool {
        guard let first = text.first else { return false }
        let kinds: [String] =
            switch first {
            case "\"": ["string"]
            case "{": ["object"]
            case "[": ["array"]
            case "t", "f": ["boolean"]
            case "n": ["null"]
            default: text.allSatisfy { $0.isNumber || $0 == "-" } ? ["integer", "number"] : ["number"]
            }
        return kinds.contains { types.contains($0) }
    }

    /// `value`'s JSON text, as JSONSerialization writes it (inside a one-element array, which any value may be).
    static func jsonText(_ value: Any) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    /// `text` as a GBNF string literal: GBNF takes JSON's string escapes (`\"`, `\\`, `\n`, `\uXXXX`, …).
    static func gbnfLiteral(_ text: String) -> String { ChatFormatter.jsonString(text) }
}
