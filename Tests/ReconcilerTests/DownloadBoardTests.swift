import Foundation
import Logging
import Manifest
import Testing

@testable import Reconciler

@Suite struct DownloadBoardTests {
    let file = HubFile(repo: "acme/tiny", file: "tiny.Q4_0.gguf", revision: "main", sha256: nil)

    @Test func aDownloadIsShownUntilItFinishesOrFails() {
        let board = DownloadBoard()
        board.record(model: "tiny", HubProgress(file: file, bytes: 1_000, total: 4_000))
        board.record(model: "tiny", HubProgress(file: file, bytes: 3_000, total: 4_000))
        #expect(
            board.inProgress
                == [.init(model: "tiny", repo: "acme/tiny", file: "tiny.Q4_0.gguf", revision: "main", bytes: 3_000, total: 4_000)]
        )
        board.record(model: "tiny", HubProgress(file: file, bytes: 4_000, total: 4_000, finished: true))
        #expect(board.inProgress.isEmpty)
        board.record(model: "tiny", HubProgress(file: file, bytes: 10, total: nil))
        board.remove(model: "tiny", file)
        #expect(board.inProgress.isEmpty, "a failed download leaves the board")
    }

    @Test func theAdminStatusListsDownloadsInProgress() async throws {
        let manifest = try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            models:
              - source: {huggingface: {repo: acme/tiny, file: tiny.Q4_0.gguf}}
            """)
        let state = StateDirectory(root: FileManager.default.temporaryDirectory.appendingPathComponent("admin-\(UUID())"))
        let board = DownloadBoard()
        board.record(model: "tiny", HubProgress(file: file, bytes: 512, total: 2_048))
        let admin = DeviceAdmin(
            current: { manifest }, supervisor: WorkerSupervisor(state: state, logger: Logger(label: "test")), downloads: board)
        let status = try #require(try JSONSerialization.jsonObject(with: await admin.status()) as? [String: Any])
        let downloads = try #require(status["downloads"] as? [[String: Any]])
        #expect(downloads.count == 1)
        #expect(downloads.first?["model"] as? String == "tiny")
        #expect(downloads.first?["bytes"] as? Int == 512)
        #expect(downloads.first?["total"] as? Int == 2_048)
    }
}
