internal import Foundation

/// Field-by-field differences between two values, by way of their JSON form, so every field of a resolved
/// model or endpoint is compared without listing the fields here.
enum FieldDiff {
    static func between<T: Encodable>(_ before: T, _ after: T, field: String = "") -> [Action.FieldChange] {
        let old = flatten(json(before), prefix: field)
        let new = flatten(json(after), prefix: field)
        return Set(old.keys).union(new.keys).sorted().compactMap { key in
            let from = old[key] ?? "(none)"
            let to = new[key] ?? "(none)"
            return from == to ? nil : Action.FieldChange(field: key, from: from, to: to)
        }
    }

    private static func json<T: Encodable>(_ value: T) -> Any {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(value) else { return NSNull() }
        return (try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)) ?? NSNull()
    }

    private static func flatten(_ value: Any, prefix: String) -> [String: String] {
        if let dictionary = value as? [String: Any] {
            return dictionary.reduce(into: [:]) { result, entry in
                result.merge(flatten(entry.value, prefix: prefix.isEmpty ? entry.key : "\(prefix).\(entry.key)")) { $1 }
            }
        }
        return [prefix: render(value)]
    }

    private static func render(_ value: Any) -> String {
        if let string = value as? String { return string }
        if let number = value as? NSNumber { return number.stringValue }
        guard JSONSerialization.isValidJSONObject(value),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        else {
            return "\(value)"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
