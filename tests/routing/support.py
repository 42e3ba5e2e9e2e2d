"""Helpers for routing tests: case directories, alerts, rules written from YAML strings."""

import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from app.core.alert import AlertStatus, ParsedAlert, Severity
from app.routing.loader import load_rules
from app.routing.rules import Rules

CASES = Path(__file__).parent / "cases"

TEAM = """\
lead: lena
engineers:
  lena: {phone: "+46700000001", skills: {postgres: 3}}
  bo: {phone: "+46700000002", skills: {postgres: 4}}
"""
SYSTEMS = """\
systems:
  db:
    skills: [postgres]
    match: [{service: db}]
"""


def case(name: str) -> Rules:
    """The rules of tests/routing/cases/<name>/."""
    return load_rules(CASES / name)


def utc(text: str) -> datetime:
    """'2026-03-03 10:00' read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def alert(
    labels: Mapping[str, str], severity: str = "critical", source: str = "alertmanager"
) -> ParsedAlert:
    """A firing alert as a parser would hand it over."""
    return ParsedAlert(
        source=source,
        dedup_key="test",
        status=AlertStatus.FIRING,
        severity=Severity(severity),
        summary="test alert",
        labels=dict(labels),
    )


def write_rules(
    directory: Path, team: str = TEAM, systems: str = SYSTEMS, policy: str | None = None
) -> Path:
    """Write the rules files (dedented) into `directory`; policy None = no policy.yaml."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "team.yaml").write_text(textwrap.dedent(team))
    (directory / "systems.yaml").write_text(textwrap.dedent(systems))
    if policy is not None:
        (directory / "policy.yaml").write_text(textwrap.dedent(policy))
    return directory
