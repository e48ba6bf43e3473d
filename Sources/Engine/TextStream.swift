/// Turns the bytes of sampled tokens into text deltas that are safe to send on their own:
/// - a delta never ends inside a UTF-8 character (a token may carry half of an emoji);
/// - a stop string is never emitted, even when it arrives split over several tokens: any tail that could
///   still grow into a stop string is held back until the next token decides it.
///
/// Works on bytes: stop strings are valid UTF-8, so a match always starts on a character boundary.
struct TextStream {
    private var pending: [UInt8] = []
    private let stops: [[UInt8]]
    private let longestStop: Int

    init(stopStrings: [String]) {
        stops = stopStrings.filter { !$0.isEmpty }.map { Array($0.utf8) }
        longestStop = stops.map(\.count).max() ?? 0
        pending.reserveCapacity(64)
    }

    /// Adds one token's bytes. Returns the text that can be emitted now (possibly empty) and whether a stop
    /// string was reached, in which case the text is everything before it and the stream is over.
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) -> (text: String, stopped: Bool) {
        pending.append(contentsOf: bytes)
        if let start = earliestStop() {
            let text = String(decoding: pending[..<start], as: UTF8.self)
            pending.removeAll()
            return (text, true)
        }
        var end = Self.completeCharactersLength(pending)
        end -= heldStopPrefixLength(upTo: end)
        guard end > 0 else { return ("", false) }
        let text = String(decoding: pending[..<end], as: UTF8.self)
        pending.removeFirst(end)
        return (text, false)
    }

    mutating func append(_ bytes: [UInt8]) -> (text: String, stopped: Bool) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    /// Everything still held, at the end of generation. A character cut off by the end (max tokens) is
    /// dropped rather than sent as U+FFFD.
    mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending[..<Self.completeCharactersLength(pending)], as: UTF8.self)
    }

    private func earliestStop() -> Int? {
        guard !stops.isEmpty, pending.count > 0 else { return nil }
        var best: Int?
        for stop in stops where stop.count <= pending.count {
            let limit = min(pending.count - stop.count, (best ?? Int.max) - 1)
            guard limit >= 0 else { continue }
            var i = 0
            while i <= limit {
                if pending[i] == stop[0] && pending[i..<(i + stop.count)].elementsEqual(stop) {
                    best = i
                    break
                }
                i += 1
            }
        }
        return best
    }

    /// The longest suffix of `pending[..<end]` that is a proper prefix of a stop string.
    private func heldStopPrefixLength(upTo end: Int) -> Int {
        guard longestStop > 1 else { return 0 }
        var length = min(longestStop - 1, end)
        while length > 0 {
            let tail = pending[(end - length)..<end]
            if stops.contains(where: { $0.count > length && $0.prefix(length).elementsEqual(tail) }) {
                return length
            }
            length -= 1
        }
        return 0
    }

    /// The length of `bytes` without a trailing, still incomplete UTF-8 sequence. Invalid bytes are not
    /// held (they could never complete); `String(decoding:)` turns them into U+FFFD.
    static func completeCharactersLength(_ bytes: [UInt8]) -> Int {
        var index = bytes.count - 1
        var continuation = 0
        while index >= 0 && continuation < 4 {
            let byte = bytes[index]
            if byte & 0b1100_0000 == 0b1000_0000 {
                continuation += 1
                index -= 1
                continue
            }
            let needed: Int
            switch byte {
            case 0b1100_0000...0b1101_1111: needed = 2
            case 0b1110_0000...0b1110_1111: needed = 3
            case 0b1111_0000...0b1111_0111: needed = 4
            default: needed = 1
            }
            return continuation + 1 < needed ? index : bytes.count
        }
        return bytes.count
    }
}
