internal import Foundation

/// Checks an AXERA model directory the way the vendor server reads it at start, so a bad one is refused at
/// `apply` (before anything changes) with the file or key at fault, instead of a server that exits later.
public enum AXLLMModelDirectory {
    /// The config.json keys `axllm serve` requires.
    public static let requiredKeys = [
        "model_name", "tokenizer_type", "url_tokenizer_model", "template_filename_axmodel", "axmodel_num",
        "filename_post_axmodel", "filename_tokens_embed", "tokens_embed_num", "tokens_embed_size",
    ]

    /// What keeps `binary` from serving `directory`, or nil when the server should start: what `apply` checks
    /// before it changes anything, and the engine again before it starts the server.
    public static func problem(binary: String, directory: String, server: AXLLMEngine.Server, arguments: [String])
        -> String?
    {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            return "the AXERA server binary \(binary) is missing or not executable"
        }
        return problem(directory, server: server, arguments: arguments)
    }

    /// What is wrong with `directory` for `server`, or nil when the server should start.
    public static func problem(_ directory: String, server: AXLLMEngine.Server, arguments: [String]) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "the model directory \(directory) does not exist"
        }
        switch server {
        case .serve: return serveProblem(directory)
        case .legacy: return legacyProblem(directory, arguments: arguments)
        }
    }

    private static func serveProblem(_ directory: String) -> String? {
        let path = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else { return "\(path) does not exist" }
        guard let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return "\(path) is not a JSON object"
        }
        if let missing = requiredKeys.first(where: { config[$0] == nil }) { return "\(path) has no '\(missing)'" }
        let files = ["url_tokenizer_model", "filename_post_axmodel", "filename_tokens_embed"].compactMap {
            config[$0] as? String
        }
        return missingFile(
            in: directory, files: files, template: config["template_filename_axmodel"] as? String,
            count: config["axmodel_num"] as? Int, source: path)
    }

    /// The files the legacy flags name (relative paths resolve in the model directory, where it runs).
    private static func legacyProblem(_ directory: String, arguments: [String]) -> String? {
        var flags: [String: String] = [:]
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                flags[String(argument[argument.index(argument.startIndex, offsetBy: 2)..<equals])] =
                    String(argument[argument.index(after: equals)...])
            } else if argument.hasPrefix("--"), index + 1 < arguments.endIndex {
                flags[String(argument.dropFirst(2))] = arguments[index + 1]
                index += 1
            }
            index += 1
        }
        let files = ["filename_post_axmodel", "filename_tokens_embed"].compactMap { flags[$0] }
        return missingFile(
            in: directory, files: files, template: flags["template_filename_axmodel"],
            count: flags["axmodel_num"].flatMap { Int($0) }, source: "the server's arguments")
    }

    private static func missingFile(in directory: String, files: [String], template: String?, count: Int?, source: String)
        -> String?
    {
        var all = files
        if let template, let count {
            all += (0..<count).map { template.replacingOccurrences(of: "%d", with: String($0)) }
        }
        for file in all {
            let path = file.hasPrefix("/") ? file : directory + "/" + file
            if !FileManager.default.fileExists(atPath: path) { return "\(path), named in \(source), does not exist" }
        }
        return nil
    }
}
