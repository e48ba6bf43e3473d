public import Prometheus
internal import Synchronization

/// What the gateway measures, per model and API, exported as Prometheus text on `/metrics`.
public struct GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    // The registry hands out the same metric for the same name and labels, but building the name and label
    // list costs more than the increment; each request touches several, so they are looked up by labels here.
    private let counters = MetricCache<Counter>()
    private let gauges = MetricCache<Gauge>()
    private let durations = MetricCache<DurationHistogram>()
    private let values = MetricCache<ValueHistogram>()

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
    static var imageTokens: MetricNameDescriptor {
        name("image_tokens", "total", "Prompt tokens that stand for images (counted in prompt_tokens too).")
    }
    static var imagesEncoded: MetricNameDescriptor {
        name("images_encoded", "total", "Images run through the vision encoder (repeated images reused from cache are not).")
    }
    static var encodeTime: MetricNameDescriptor {
        name("image_encode_seconds", "total", "Time spent encoding images.")
    }
    static var ttft: MetricNameDescriptor {
        name("time_to_first_token", "seconds", "Time from admission to the first generated text.")
    }
    static var rate: MetricNameDescriptor { name("decode_rate", "tokens_per_second", "Decode speed of each finished request.") }
    static var queue: MetricNameDescriptor {
        name("requests_in_flight", "", "Requests admitted and not finished (running or waiting for a slot).")
    }

    public func request(model: String, api: String, status: Int) {
        counters.metric(["requests", model, api, "\(status)"]) {
            registry.makeCounter(descriptor: Self.requests, labels: labels(model, api) + [("status", "\(status)")])
        }.increment()
        if status >= 400 {
            counters.metric(["errors", model, api]) { registry.makeCounter(descriptor: Self.errors, labels: labels(model, api)) }
                .increment()
        }
    }

    /// Every answer by API and status, including those refused before any model was involved (400, 401,
    /// 404, 413), which the per-model counters cannot see.
    public func response(api: String, status: Int) {
        counters.metric(["responses", api, "\(status)"]) {
            registry.makeCounter(descriptor: Self.responses, labels: [("api", api), ("status", "\(status)")])
        }.increment()
    }

    public func tokens(model: String, api: String, prompt: Int, completion: Int) {
        counters.metric(["prompt", model, api]) {
            registry.makeCounter(descriptor: Self.promptTokens, labels: labels(model, api))
        }
        .increment(by: Int64(prompt))
        counters.metric(["completion", model, api]) {
            registry.makeCounter(descriptor: Self.completionTokens, labels: labels(model, api))
        }.increment(by: Int64(completion))
    }

    /// Image tokens and encoder work of one finished request; nothing is recorded for a request without images.
    public func images(model: String, api: String, tokens: Int, encoded: Int, encodeMs: Double) {
        guard tokens > 0 || encoded > 0 else { return }
        counters.metric(["imageTokens", model, api]) {
            registry.makeCounter(descriptor: Self.imageTokens, labels: labels(model, api))
        }.increment(by: Int64(tokens))
        counters.metric(["imagesEncoded", model, api]) {
            registry.makeCounter(descriptor: Self.imagesEncoded, labels: labels(model, api))
        }.increment(by: Int64(encoded))
        counters.metric(["encodeTime", model, api]) {
            registry.makeCounter(descriptor: Self.encodeTime, labels: labels(model, api))
        }.increment(by: encodeMs / 1000)
    }

    public func timeToFirstToken(model: String, api: String, _ duration: Duration) {
        durations.metric([model, api]) {
            registry.makeDurationHistogram(descriptor: Self.ttft, labels: labels(model, api), buckets: Self.ttftBuckets)
        }.record(duration)
    }

    public func decodeRate(model: String, api: String, tokensPerSecond: Double) {
        values.metric([model, api]) {
            registry.makeValueHistogram(descriptor: Self.rate, labels: labels(model, api), buckets: Self.rateBuckets)
        }.record(tokensPerSecond)
    }

    /// Requests admitted and not yet finished (running or waiting for a slot).
    public func inFlight(model: String, _ count: Int) {
        gauges.metric([model]) { registry.makeGauge(descriptor: Self.queue, labels: [("model", model)]) }.set(to: Double(count))
    }

    public func render() -> String { registry.emitToString() }
}

/// Metrics of one kind by their label values.
private final class MetricCache<Metric: AnyObject & Sendable>: Sendable {
    private let metrics = Mutex<[[String]: Metric]>([:])

    func metric(_ key: [String], make: () -> Metric) -> Metric {
        metrics.withLock { metrics in
            if let metric = metrics[key] { return metric }
            let metric = make()
            metrics[key] = metric
            return metric
        }
    }
}
