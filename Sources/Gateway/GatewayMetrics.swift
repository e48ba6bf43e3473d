public import Prometheus

/// What the gateway measures, per model and API, exported as Prometheus text on `/metrics`.
public struct GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) { self.registry = registry }

    static let ttftBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]
    static let rateBuckets: [Double] = [1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300]

    func labels(_ model: String, _ api: String) -> [(String, String)] { [("model", model), ("api", api)] }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rockchipllama", metricName: metric, unitName: unit, helpText: help)
    }

    static var requests: MetricNameDescriptor { name("requests", "total", "Requests answered, by model, API and HTTP status.") }
    static var responses: MetricNameDescriptor { name("http_responses", "total", "HTTP answers by API and status.") }
    static var errors: MetricNameDescriptor { name("request_errors", "total", "Requests that ended in an error.") }
    static var promptTokens: MetricNameDescriptor {
        name("prompt_tokens", "total", "Prompt tokens processed, cached ones included.")
    }
    static var completionTokens: MetricNameDescriptor { name("completion_tokens", "total", "Tokens generated.") }
    static var ttft: MetricNameDescriptor {
        name("time_to_first_token", "seconds", "Time from admission to the first generated text.")
    }
    static var rate: MetricNameDescriptor { name("decode_rate", "tokens_per_second", "Decode speed of each finished request.") }
    static var queue: MetricNameDescriptor {
        name("requests_in_flight", "", "Requests admitted and not finished (running or waiting for a slot).")
    }

    public func request(model: String, api: String, status: Int) {
        registry.makeCounter(descriptor: Self.requests, labels: labels(model, api) + [("status", "\(status)")]).increment()
        if status >= 400 { registry.makeCounter(descriptor: Self.errors, labels: labels(model, api)).increment() }
    }

    /// Every answer by API and status, including those refused before any model was involved (400, 401,
    /// 404, 413), which the per-model counters cannot see.
    public func response(api: String, status: Int) {
        registry.makeCounter(descriptor: Self.responses, labels: [("api", api), ("status", "\(status)")]).increment()
    }

    public func tokens(model: String, api: String, prompt: Int, completion: Int) {
        registry.makeCounter(descriptor: Self.promptTokens, labels: labels(model, api)).increment(by: Int64(prompt))
        registry.makeCounter(descriptor: Self.completionTokens, labels: labels(model, api)).increment(by: Int64(completion))
    }

    public func timeToFirstToken(model: String, api: String, _ duration: Duration) {
        registry.makeDurationHistogram(descriptor: Self.ttft, labels: labels(model, api), buckets: Self.ttftBuckets)
            .record(duration)
    }

    public func decodeRate(model: String, api: String, tokensPerSecond: Double) {
        registry.makeValueHistogram(descriptor: Self.rate, labels: labels(model, api), buckets: Self.rateBuckets)
            .record(tokensPerSecond)
    }

    /// Requests admitted and not yet finished (running or waiting for a slot).
    public func inFlight(model: String, _ count: Int) {
        registry.makeGauge(descriptor: Self.queue, labels: [("model", model)]).set(to: Double(count))
    }

    public func render() -> String { registry.emitToString() }
}
