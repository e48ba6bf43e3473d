import Foundation

extension JSONSchemaGrammar {
    /// GBNF for an answer that is only tool calls, in the `<tool_call>{"name": …, "arguments": …}</tool_call>`
    /// form `OutputRouter` reads: one call when `single`, else one or more. Each call names one of `tools` and
    /// its arguments follow that function's `parameters` schema, so what the router parses is always a call
    /// the client declared, with arguments that validate.
    static func compileToolCalls(_ tools: [ToolDefinition], single: Bool) throws(EngineError) -> String {
        guard !tools.isEmpty else { throw EngineError(.invalidRequest, "a required tool call needs at least one tool") }
        var compiler = JSONSchemaGrammar(root: [:])
        var calls: [String] = []
        for tool in tools {
            guard let data = tool.parameters.data(using: .utf8),
                let schema = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            else { throw EngineError(.invalidRequest, "the parameters of tool '\(tool.name)' are not valid JSON") }
            // `$ref`s of a tool's schema point into that schema.
            compiler.root = schema as? [String: Any] ?? [:]
            compiler.references = [:]
            let arguments = try compiler.expression(schema, at: "tools.\(tool.name).parameters")
            let rule = compiler.name("call-\(tool.name)")
            let name = gbnfLiteral(ChatFormatter.jsonString(tool.name))
            compiler.define(
                rule,
                #""{" ws "\"name\"" ws ":" ws \#(name) ws "," ws "\"arguments\"" ws ":" ws \#(arguments) "}" ws"#)
            calls.append(rule)
        }
        _ = compiler.primitive("ws")
        let call = compiler.name("tool-call")
        compiler.define(call, #""<tool_call>" "\n"? ( \#(calls.joined(separator: " | ")) ) "</tool_call>""#)
        compiler.define("root", single ? call : #"\#(call) ( "\n"? \#(call) )*"#)
        return compiler.rendered
    }
}
