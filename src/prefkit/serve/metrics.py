"""Prometheus metrics of one server (``GET /metrics``, text exposition format).

Each app gets its own :class:`prometheus_client.CollectorRegistry`, so several apps in one
process (tests) never share counters.  Route labels are the route *templates* (``/v1/score``),
never raw paths, so a client cannot blow up the number of series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Batch sizes are counted in inputs (responses, items, pairs or queries) per model call.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServeMetrics:
    """Request counts by route and status, latency, batch sizes, model time and queue depth."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "prefkit_serve_requests", "HTTP requests answered, by route and status code.",
            ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "prefkit_serve_request_seconds", "Time to answer a request, by route.",
            ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram(
            "prefkit_serve_batch_size", "Inputs per model call (after micro-batching).",
            ["model", "op"], buckets=BATCH_BUCKETS, registry=self.registry)
        self.model_seconds = Histogram(
            "prefkit_serve_model_seconds", "Time of one batched model call.",
            ["model", "op"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge(
            "prefkit_serve_queue_depth", "Requests waiting for a model call.",
            ["model"], registry=self.registry)
        self.rejected = Counter(
            "prefkit_serve_overload", "Requests refused with 503 because a queue was full.",
            ["model"], registry=self.registry)

    def observe_batch(self, model: str, op: str, size: int, seconds: float) -> None:
        self.batch_size.labels(model, op).observe(size)
        self.model_seconds.labels(model, op).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
