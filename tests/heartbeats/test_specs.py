"""Pure parts: which labels route a heartbeat's alert to its system, and which provider
failures count as an outage."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.heartbeats.specs import heartbeat_specs
from app.paging.base import ChannelError
from app.routing.decision import route
from app.routing.loader import load_rules
from tests.heartbeats.support import RULES


def rules_with(tmp_path: Path, systems: str) -> Path:
    for name in ("team.yaml", "policy.yaml"):
        (tmp_path / name).write_text((RULES / name).read_text())
    (tmp_path / "systems.yaml").write_text(systems)
    return tmp_path


def test_specs_route_by_the_first_literal_entry() -> None:
    specs = heartbeat_specs(load_rules(RULES))
    backup = specs["nightly-backup"]
    assert (backup.system, backup.limit) == ("backup", timedelta(minutes=12))
    assert backup.labels["job"] == "backup"  # the regex entry before it is skipped
    assert backup.labels["heartbeat"] == "nightly-backup"
    assert specs["Watchdog"].labels["job"] == "prometheus"


def test_name_defaults_to_the_system_and_every_heartbeat_routes_to_its_system(
    tmp_path: Path,
) -> None:
    systems = """systems:
  catchall:
    skills: [postgres]
    match:
      - {job: ".*"}
  db:
    skills: [postgres]
    heartbeat: {every: 5m}
    match:
      - {job: db}
  cron:
    skills: [postgres]
    heartbeat: {every: 1h}
    match:
      - {job: "cron-.*"}
"""
    rules = load_rules(rules_with(tmp_path, systems))
    specs = heartbeat_specs(rules)
    # db's literal entry loses to an earlier catch-all; cron has only a regex: no routing labels.
    assert specs["db"].labels == {"alertname": "HeartbeatMissed", "heartbeat": "db", "system": "db"}
    assert "job" not in specs["cron"].labels
    # The `system` label routes them all the same: a heartbeat alert names its system.
    for name in ("db", "cron"):
        alert = ParsedAlert(
            source="heartbeat",
            dedup_key=f"heartbeat:{name}",
            status=AlertStatus.FIRING,
            severity=Severity.CRITICAL,
            summary="missed",
            labels=specs[name].labels,
        )
        assert route(rules, alert, datetime(2026, 11, 25, 10, tzinfo=UTC)).system == name


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (ChannelError("x", code="500", retryable=True), True),
        (ChannelError("x", code="http_503", retryable=True), True),
        (ChannelError("x", code="timeout", retryable=True), True),
        (ChannelError("x", code="20429", retryable=True), False),
        (ChannelError("x", code="ratelimited", retryable=True), False),
        (ChannelError("x", code="21211", retryable=False, contact_unhealthy=True), False),
        (ChannelError("x", code="20003", retryable=False, config_error=True), False),
    ],
)
def test_outage_means_retryable_and_not_rate_limited(error: ChannelError, outage: bool) -> None:
    assert error.is_outage is outage
