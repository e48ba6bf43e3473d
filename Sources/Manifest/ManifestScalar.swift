/// A value written as one YAML scalar and parsed from its text: enums, durations, listen addresses.
///
/// The manifest decoder parses these itself so a bad value becomes a positioned diagnostic instead of an
/// opaque `DecodingError`; the `Codable` conformance below is what JSON state files and re-encoding use.
public protocol ManifestScalar: Codable, Sendable, Hashable {
    /// Parses the scalar's text, or explains in one phrase why it cannot (e.g. "expected a duration like 60s").
    static func parse(_ text: String) -> Result<Self, ScalarParseError>
    /// The canonical text, which `parse` accepts.
    var text: String { get }
    /// A stand-in used while decoding continues past an error; never part of a manifest that validated.
    static var placeholder: Self { get }
}

public struct ScalarParseError: Error, Sendable, Hashable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

extension ManifestScalar {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        switch Self.parse(text) {
        case .success(let value): self = value
        case .failure(let error):
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// A closed set of words, matched case-insensitively, with a "did you mean" when a word is close to one.
public protocol ManifestEnum: ManifestScalar, CaseIterable, RawRepresentable where RawValue == String {
    /// Other spellings accepted on input, e.g. YAML booleans for `on`/`off`.
    static var aliases: [String: Self] { get }
}

extension ManifestEnum {
    // Restated here because an enum with raw values would otherwise get two equally good defaults (this
    // protocol's and RawRepresentable's) and the compiler would fall back to keyed enum synthesis.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        switch Self.parse(text) {
        case .success(let value): self = value
        case .failure(let error): throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static var aliases: [String: Self] { [:] }
    public var text: String { rawValue }
    public static var placeholder: Self { allCases.first! }

    public static func parse(_ text: String) -> Result<Self, ScalarParseError> {
        let lowered = text.lowercased()
        if let value = allCases.first(where: { $0.rawValue.lowercased() == lowered }) ?? aliases[lowered] {
            return .success(value)
        }
        let names = allCases.map(\.rawValue)
        let expected = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names[0]
        return .failure(
            ScalarParseError("unknown value '\(text)', expected \(expected)" + Suggestion.didYouMean(text, in: names)))
    }
}
