"""Prometheus metrics of one server (own registry, so several apps in one process never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

PREFIX = "therapeutic_moe"
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class _SafetyCounters:
    """Exposes the safety layer's own counters at scrape time (it owns them; we only read)."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        family = GaugeMetricFamily(f"{PREFIX}_safety_events", "Safety layer counters since start, by name",
                                   labels=["name"])
        try:
            counters = self.source() or {}
        except Exception:  # a metrics scrape must never fail because of one source
            counters = {}
        for name, value in sorted(_flatten(counters).items()):
            family.add_metric([name], value)
        yield family


def _flatten(counters, prefix: str = "") -> dict[str, float]:
    out = {}
    for key, value in dict(counters).items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, (int, float)):
            out[name] = float(value)
        elif isinstance(value, dict):
            out.update(_flatten(value, f"{name}_"))
    return out


class ServerMetrics:
    def __init__(self, safety_counters=None):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(f"{PREFIX}_requests", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram(f"{PREFIX}_request_latency_seconds", "Time to the last byte of the response",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.generated_tokens = Counter(f"{PREFIX}_generated_tokens", "Tokens generated", registry=r)
        self.prompt_tokens = Counter(f"{PREFIX}_prompt_tokens", "Prompt tokens processed", registry=r)
        self.replies = Counter(f"{PREFIX}_replies", "Replies by finish reason", ["finish_reason"], registry=r)
        self.crisis_events = Counter(f"{PREFIX}_crisis_events", "Crisis replies sent, by risk level",
                                     ["level"], registry=r)
        self.expert_tokens = Counter(f"{PREFIX}_expert_tokens",
                                     "Generated tokens by the domain of their top expert", ["domain"], registry=r)
        self.rejected = Counter(f"{PREFIX}_rejected_requests", "Requests turned away, by reason",
                                ["reason"], registry=r)
        self.in_flight = Gauge(f"{PREFIX}_in_flight_requests", "Chat requests running or waiting", registry=r)
        if safety_counters is not None:
            r.register(_SafetyCounters(safety_counters))

    def record_reply(self, reply, domains: list[str]) -> None:
        self.prompt_tokens.inc(reply.usage.prompt_tokens)
        self.generated_tokens.inc(reply.usage.completion_tokens)
        self.replies.labels(reply.finish_reason).inc()
        if reply.crisis is not None:
            level = getattr(reply.crisis.level, "value", reply.crisis.level)
            self.crisis_events.labels(str(level)).inc()
        counts: dict[str, int] = {}
        for r in reply.routing:
            if r.expert >= 0:
                counts[r.domain] = counts.get(r.domain, 0) + 1
        for domain, n in counts.items():
            self.expert_tokens.labels(domain).inc(n)
        for domain in domains:  # make every domain visible in the scrape, even at zero
            self.expert_tokens.labels(domain)
