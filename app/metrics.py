"""Prometheus instruments, one registry per app so tests can build many apps."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Every counter and histogram the service exposes on `/metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = Counter(
            "skillpager_alerts_received",
            "Alert events accepted, by source and status.",
            ["source", "status"],
            registry=self.registry,
        )
        self.grouping_only = Counter(
            "skillpager_alerts_grouping_only",
            "Alerts over their token's ingest limit: stored and grouped, not routed.",
            ["source"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "skillpager_requests_rejected",
            "Inbound requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.truncated_alerts = Counter(
            "skillpager_alertmanager_truncated_alerts",
            "Alerts Alertmanager left out of its webhooks (truncatedAlerts).",
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "skillpager_request_seconds",
            "Webhook request latency until the answer.",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.writer_batch = Histogram(
            "skillpager_writer_batch_alerts",
            "Alerts committed per writer transaction.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=self.registry,
        )
        self.writer_commit = Histogram(
            "skillpager_writer_commit_seconds",
            "Time of one writer transaction, from begin to commit.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.writer_conflicts = Counter(
            "skillpager_writer_conflicts",
            "Writer transactions retried after another replica wrote the same key or group.",
            registry=self.registry,
        )
        self.rules_version = Gauge(
            "skillpager_rules_info",
            "The skills map in force (value 1), labelled by its version.",
            ["version"],
            registry=self.registry,
        )
        self.engine_cycles = Counter(
            "skillpager_engine_cycles",
            "Escalation engine cycles completed: recovery, checks, then tick and send until "
            "nothing more was due.",
            registry=self.registry,
        )
        self.rules_reload = Counter(
            "skillpager_rules_reloads",
            "Skills map reloads by result.",
            ["result"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
