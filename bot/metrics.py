"""The bot's metrics (prometheus-client's default registry: one per process, as Prometheus
scrapes a process). The core counts as it works; :mod:`bot.observe` serves them, with the
gauges it reads from the database when asked."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "signalbot_deliveries", "Messages the bot tried to deliver, by how the attempt ended "
    "(sent; retrying: given up for now, tried again later; failed: refused for good)",
    ["platform", "outcome"],
)  # fmt: skip
EDITS = Counter(
    "signalbot_edits", "Sent messages the bot edited because a story they show changed, by "
    "outcome (edited; gone: deleted by someone, not edited again; retrying; failed)",
    ["platform", "outcome"],
)  # fmt: skip
PUSH_LAG = Histogram(
    "signalbot_push_lag_seconds", "How long after its scheduled time a push was sent",
    ["platform"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600),
)  # fmt: skip
RATE_LIMITED = Counter(
    "signalbot_rate_limited", "HTTP 429 answers from a platform, by the limit's scope",
    ["platform", "scope"],
)  # fmt: skip
COMMANDS = Histogram(
    "signalbot_command_seconds", "Time to answer a command, from its request to its reply",
    ["platform", "command"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
INGESTED = Counter(
    "signalbot_ingest_results", "Stories read from pages, feeds and files, by what became of "
    "them (new, updated, unchanged; refused: not a story)",
    ["result"],
)  # fmt: skip
CLAIMS = Gauge(
    "signalbot_push_claims", "Pushes claimed by a process and not yet written back (all replicas)"
)
RESERVED = Gauge(
    "signalbot_messages_reserved",
    "Messages reserved in the delivery ledger and not yet settled (all replicas)",
)
PAUSED = Gauge(
    "signalbot_paused_subscriptions", "Paused subscriptions by why (all replicas)", ["reason"]
)
