import Foundation
import Gateway
import Hummingbird
import Testing

@Suite struct OpenAIScratchTests {
    @Test func countingLength() async throws {
        try await LiveGateway.with(apis: [.openai]) { base, _ in
            let start = ContinuousClock.now
            let r = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: #"{"model": "smollm2", "temperature": 0, "max_tokens": 1500, "messages": [{"role": "user", "content": "Count from 1 to 1000, separated by commas."}]}"#)
            print("SCRATCH", ContinuousClock.now - start, r.body.suffix(300))
        }
    }
}
