public import Prometheus

/// Loads, unloads and memory of models, in the same registry as the gateway's metrics so `/metrics` shows
/// them together.
public struct ResidencyMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) { self.registry = registry }

    static let loadBuckets: [Duration] = [
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
        .seconds(60), .seconds(120), .seconds(300),
    ]

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rockchipllama", metricName: metric, unitName: unit, helpText: help)
    }

    func loaded(model: String, reason: String, took: Duration, bytes: Int64?) {
        registry.makeCounter(
            descriptor: Self.name("model_loads", "total", "Model loads by model and reason (preload, request)."),
            labels: [("model", model), ("reason", reason)]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.name(
                "model_load_duration", "seconds", "Time from starting a model's worker to its first health answer."),
            labels: [("model", model)], buckets: Self.loadBuckets
        ).record(took)
        residentBytes(model: model, bytes ?? 0)
    }

    func loadFailed(model: String) {
        registry.makeCounter(
            descriptor: Self.name("model_load_failures", "total", "Model loads whose worker did not come up."),
            labels: [("model", model)]
        ).increment()
    }

    /// `reason`: idle, evicted, keep_alive, unload, manifest, exited.
    func unloaded(model: String, reason: String) {
        registry.makeCounter(
            descriptor: Self.name(
                "model_unloads", "total", "Model unloads by model and reason (idle, evicted, keep_alive, unload, manifest)."),
            labels: [("model", model), ("reason", reason)]
        ).increment()
        residentBytes(model: model, 0)
    }

    func residentBytes(model: String, _ bytes: Int64) {
        registry.makeGauge(
            descriptor: Self.name("model_resident", "bytes", "Memory of each loaded model's worker (0 when not loaded)."),
            labels: [("model", model)]
        ).set(to: Double(bytes))
    }
}
