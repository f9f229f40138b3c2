"""Prometheus metrics of delivery, per process (each worker is scraped on its own)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SENDS = Counter(
    "outage_notify_sends_total",
    "Provider calls by channel, provider and outcome",
    ["channel", "provider", "outcome"],
)
SEND_SECONDS = Histogram(
    "outage_notify_send_seconds",
    "Time of one provider call",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECEIPTS = Counter(
    "outage_notify_receipts_total",
    "Delivery receipts received, by provider and status",
    ["provider", "status"],
)


def record_send(channel: str, provider: str, outcome: str, seconds: float) -> None:
    SENDS.labels(channel, provider, outcome).inc()
    SEND_SECONDS.labels(channel).observe(seconds)
