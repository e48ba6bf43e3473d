public import Foundation
public import Manifest

/// What the device's clocks were before the runner first pinned them, and what it pinned: the file that
/// lets `restore` undo pinning and `observeDrift` notice changes, even after a reboot of the runner.
public struct ClockRecord: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var knob: ClockKnob
        /// nil when the knob has no governor.
        public var originalGovernor: String?
        /// The value in effect (`readbackPath`) before the first pin.
        public var originalValue: String
        /// The value written, after choosing among the available frequencies.
        public var pinnedValue: String
    }

    public var soc: SoC
    public var pinnedAt: Date
    public var entries: [Entry]

    /// Adds knobs not yet recorded and updates what is pinned, but keeps every original already recorded:
    /// after a second pin, the values found then are the first pin's own, not the device's.
    mutating func merge(_ entry: Entry) {
        guard let index = entries.firstIndex(where: { $0.knob.valuePath == entry.knob.valuePath }) else {
            entries.append(entry)
            return
        }
        entries[index].knob = entry.knob
        entries[index].pinnedValue = entry.pinnedValue
    }

    static func load(from url: URL) throws -> ClockRecord? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        do {
            return try JSONDecoder.state.decode(ClockRecord.self, from: data)
        } catch {
            throw ReconcilerError(
                .corruptState,
                "\(url.path) cannot be read (\(error)); the clocks it recorded must be restored by hand before moving it away")
        }
    }

    /// Saves the record, or removes the file when nothing is left to restore.
    func save(to url: URL) throws {
        guard entries.isEmpty else { return try AtomicFile.write(json: self, to: url) }
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do {
            try FileManager.default.removeItem(at: url)
        } catch {
            throw ReconcilerError(.stateWrite, "cannot remove \(url.path): \(error)")
        }
    }
}

extension StateDirectory {
    /// The clock record (`ClockRecord`): present exactly while the runner holds clocks pinned.
    public var clockRecord: URL { root.appendingPathComponent("clocks.json") }
}
