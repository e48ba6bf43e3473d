/// The value to write when a board does not offer the scripts' exact operating point: lower-binned SKUs
/// and other kernels list different frequencies, and the kernel rejects or rounds one it does not know.
struct FrequencyChoice: Equatable {
    enum Basis: Equatable {
        /// The target is in the available list.
        case exact
        /// The highest available frequency below the target: never run a clock above what the scripts chose.
        case highestBelow
        /// Every available frequency is above the target: the lowest of them, the nearest.
        case nearestAbove
        /// The kernel lists no frequencies (or the knob is not a frequency): the target as is.
        case unlisted
    }

    var value: Int
    var basis: Basis

    static func choose(target: Int, available: [Int]?) -> FrequencyChoice {
        guard let available, !available.isEmpty else { return FrequencyChoice(value: target, basis: .unlisted) }
        if available.contains(target) { return FrequencyChoice(value: target, basis: .exact) }
        if let below = available.filter({ $0 < target }).max() { return FrequencyChoice(value: below, basis: .highestBelow) }
        return FrequencyChoice(value: available.min() ?? target, basis: .nearestAbove)
    }

    /// Said in plans, so that a board that cannot reach the scripts' value is visible.
    func note(target: Int) -> String {
        switch basis {
        case .exact: "available"
        case .unlisted: "no list of available values"
        case .highestBelow: "\(target) not available; highest available below it"
        case .nearestAbove: "\(target) not available; nearest available (all are higher)"
        }
    }

    /// `available_frequencies` and `scaling_available_frequencies`: numbers separated by spaces.
    static func parse(_ text: String) -> [Int]? {
        let values = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        return values.isEmpty ? nil : values
    }
}
