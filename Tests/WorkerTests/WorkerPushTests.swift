import Engine
import NIOCore
import NIOPosix
import Synchronization
import TestSupport
import Testing

@testable import Worker

/// The gateway's hot path to a worker: events pushed to a receiver on the event loop that started them.
extension WorkerAPITests {
    /// Records what a pushed generation hands over, and on which thread.
    final class Recorder: GenerationReceiver, Sendable {
        struct Seen: Sendable {
            var accepted = false
            var text = ""
            var done: Completion?
            var ended = false
            var error: EngineError?
            var callsAfterEnd = 0
            var offTheLoop = 0
        }

        let loop: any EventLoop
        let seen = Mutex(Seen())
        let (finished, signal) = AsyncStream<Void>.makeStream()

        init(loop: any EventLoop) { self.loop = loop }

        private func record(_ change: (inout Seen) -> Void) {
            let onLoop = loop.inEventLoop
            seen.withLock { seen in
                if seen.ended { seen.callsAfterEnd += 1 }
                if !onLoop { seen.offTheLoop += 1 }
                change(&seen)
            }
        }

        func accepted() { record { $0.accepted = true } }

        func received(_ event: GenerationEvent) {
            record { seen in
                if case .text(let text, _) = event { seen.text += text }
                if case .done(let completion) = event { seen.done = completion }
            }
        }

        func ended(_ error: (any Error)?) {
            record { seen in
                seen.ended = true
                seen.error = error as? EngineError
            }
            signal.finish()
        }

        /// Waits for `ended`, then for the receiver's loop to run whatever it had queued, so a call that
        /// should not come after the end would be counted.
        func waitForEnd() async throws -> Seen {
            for await _ in finished {}
            try await loop.submit {}.get()
            return seen.withLock { $0 }
        }
    }

    func push(_ request: GenerationRequest, _ client: WorkerClient) async throws -> (Recorder, GenerationStop) {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let recorder = Recorder(loop: loop)
        let stop = try await loop.submit { client.push(request, to: recorder) }.get()
        return (recorder, stop)
    }

    @Test func aPushedGenerationMatchesTheStreamedOne() async throws {
        try await withWorker { client, _ in
            let (streamed, _) = try await collect(try await client.generate(Self.question))
            let (recorder, _) = try await push(Self.question, client)
            let seen = try await recorder.waitForEnd()
            #expect(seen.accepted && seen.ended && seen.error == nil)
            #expect(seen.text == streamed && !streamed.isEmpty)
            #expect(seen.done?.usage.completionTokens ?? 0 > 0)
            #expect(seen.offTheLoop == 0 && seen.callsAfterEnd == 0)
            // The connection went back to the pool for the next request.
            #expect(WorkerStreams.shared.idleConnections(to: client.socketPath) >= 1)
        }
    }

    @Test func aRefusalIsPushedAsTheWorkersError() async throws {
        try await withWorker { client, _ in
            let long = GenerationRequest(input: .prompt(String(repeating: "hello world ", count: 600)), maxTokens: 4)
            let seen = try await push(long, client).0.waitForEnd()
            #expect(!seen.accepted && seen.ended)
            #expect(seen.error?.code == .promptTooLong)
            let unreachable = try await push(Self.question, WorkerClient(socketPath: "/nonexistent/w.sock")).0.waitForEnd()
            #expect(!unreachable.accepted && unreachable.error?.code == .unavailable)
        }
    }

    @Test func aStoppedPushHearsNothingMoreAndFreesItsSlot() async throws {
        try await withWorker(parallel: 1) { client, _ in
            let endless = GenerationRequest(
                input: .messages([.user("Write a long story about a dragon who learns to bake bread.")]),
                sampling: Sampling(temperature: 0), maxTokens: 400)
            let (recorder, stop) = try await push(endless, client)
            try await eventually("the first pushed text") { !recorder.seen.withLock { $0.text.isEmpty } }
            // Stopped on its loop, so nothing is on its way to the receiver when `before` is read.
            try await recorder.loop.submit { stop() }.get()
            let before = recorder.seen.withLock { $0.text }
            // The worker frees the slot (long before 400 tokens) once it sees the connection closed; after that
            // and a pass of the receiver's loop, anything still to reach the receiver would have.
            try await eventually("the worker to free the stopped generation's slot") {
                try await client.fetchStatus().slots.allSatisfy { $0.state == .idle }
            }
            try await recorder.loop.submit {}.get()
            #expect(!before.isEmpty && recorder.seen.withLock { $0.text } == before && !recorder.seen.withLock { $0.ended })
            // With one slot, the next request can only run once the stopped one let go of it.
            let (text, done) = try await collect(try await client.generate(Self.question))
            #expect(!text.isEmpty && done?.reason != .error)
        }
    }
}
