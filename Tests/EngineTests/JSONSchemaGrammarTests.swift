import Foundation
import Testing

@testable import Engine

/// The schema-to-grammar compiler on its own: the shapes it writes, and refusals by name. (Answers from the
/// real model validating against a corpus of schemas are GatewayTests' StructuredOutputTests.)
struct JSONSchemaGrammarTests {
    func compile(_ schema: String) throws -> String { try JSONSchemaGrammar.compile(schema) }

    func refusal(_ schema: String) -> String? {
        do {
            _ = try JSONSchemaGrammar.compile(schema)
            return nil
        } catch { return error.message }
    }

    @Test func literalsKeepTheirJSONTypes() throws {
        let grammar = try compile(#"{"enum": ["on", null, 0, true, 1.5, {"a": [1]}]}"#)
        for literal in [#""\"on\"""#, #""null""#, #""0""#, #""true""#, #""1.5""#, #""{\"a\":[1]}""#] {
            #expect(grammar.contains(literal), "\(literal) in \(grammar)")
        }
    }

    @Test func enumValuesOfAnotherTypeThanTheSchemasAreLeftOut() throws {
        let grammar = try compile(#"{"type": ["integer", "null"], "enum": [1, "one", null, 2.5, true]}"#)
        #expect(grammar.contains(#""1""#) && grammar.contains(#""null""#))
        #expect(!grammar.contains("one") && !grammar.contains("2.5") && !grammar.contains("true"), "\(grammar)")
    }

    @Test func objectsPutRequiredMembersFirstAndRecursionBecomesARule() throws {
        let grammar = try compile(
            ##"{"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}, "z": {"$ref": "#/$defs/n"}}, "required": ["z", "a"], "$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}}}}"##
        )
        // One rule per member position: the first holds z, then a (both required), then b.
        let lines = grammar.split(separator: "\n")
        for (position, key) in [("-0f ::=", "z"), ("-1n ::=", "a"), ("-2n ::=", "b")] {
            // The root object's rule is `object-2` (`object` is the plain JSON object's).
            let line = lines.first { $0.hasPrefix("object-2\(position)") }
            #expect(line?.contains(#""\"\#(key)\"""#) == true, "\(position) \(key): \(grammar)")
        }
        #expect(grammar.contains("n ::="), "the $ref target is one rule, used recursively: \(grammar)")
        #expect(grammar.hasPrefix("root ::=") || grammar.contains("\nroot ::="))
    }

    @Test func refusalsNameTheKeywordAndWhere() {
        #expect(refusal(#"{"type": "integer", "minimum": 5}"#)?.contains("'minimum' at #") == true)
        #expect(
            refusal(#"{"properties": {"x": {"type": "array", "uniqueItems": true}}}"#)?.contains(
                "'uniqueItems' at #/properties/x") == true)
        #expect(refusal(#"{"type": "string", "format": "email"}"#)?.contains("'format'") == true)
        #expect(refusal(#"{"$ref": "https://example.com/s.json"}"#)?.contains("'$ref'") == true)
        #expect(refusal(#"{"type": "string", "pattern": "(?=a)b"}"#)?.contains("'pattern'") == true)
        #expect(refusal(#"{"type": "string", "pattern": "a\\1"}"#)?.contains("'pattern'") == true)
        #expect(refusal("not json")?.contains("not valid JSON") == true)
        #expect(
            refusal(#"{"type": "object", "anyOf": [{"required": ["a"]}]}"#)?.contains(
                "'type' at # cannot be enforced: beside anyOf") == true)
        #expect(refusal(#"{"enum": ["a", "bb"], "maxLength": 1}"#)?.contains("'maxLength'") == true)
        #expect(refusal(#"{"type": "integer", "enum": ["a"]}"#)?.contains("no value is of the schema's type") == true)
    }

    @Test func patternsBecomeJSONSafeGrammar() throws {
        var parser = RegexToGrammar(#"^[A-Z]{2}-\d{3,4}(x|y)?$"#)
        let converted = try parser.parse(path: "#")
        #expect(converted == #"( [A-Z] ){2} "-" ( [0-9] ){3,4} ( ( ( "x" | "y" ) ) )?"#, "\(converted)")
        var quote = RegexToGrammar(#"a"b.[^c]"#)
        let text = try quote.parse(path: "#")
        #expect(text.contains(#""\\\"""#), "a quote comes out escaped: \(text)")
        #expect(text.contains(#"[^c"\\\x7F\x00-\x1F]"#), "a negated class never yields a quote or a control: \(text)")
    }
}
