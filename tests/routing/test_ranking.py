"""Routing decisions, table-driven: each case is a rules dir + alert + time → expected plan.

Every rule of ARCHITECTURE §3 has a case here; the comments give the local wall-clock times.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from app.routing.decision import route
from app.routing.timespec import MINUTES_PER_WEEK, minute_of_week, parse_hours, week_mask
from tests.routing.support import alert, case, utc

Steps = list[tuple[int, list[str]]]


@dataclass(frozen=True)
class Case:
    """One routing case and its expected decision."""

    rules: str
    labels: dict[str, str]
    at: str
    severity: str = "critical"
    source: str = "alertmanager"
    load: dict[str, int] = field(default_factory=dict)
    system: str | None = "?"  # "?" = do not check
    action: str = "page"
    steps: Steps | None = None
    page_at: str | None = None


PDB = {"service": "payments-db"}
P = 300  # default ack_timeout in seconds

CASES = {
    # bo is the named expert (level 2 only); anna and carl tie on 9, anna first by id.
    "experts first, level sums, tie by id": Case(
        "ranking",
        PDB,
        "2026-03-03 15:00",
        steps=[(0, ["bo"]), (P, ["anna"]), (2 * P, ["carl", "dana"]), (3 * P, ["lena"])],
        system="payments-db",
    ),
    "open load breaks the tie": Case(
        "ranking",
        PDB,
        "2026-03-03 15:00",
        load={"anna": 1},
        steps=[(0, ["bo"]), (P, ["carl"]), (2 * P, ["anna", "dana"]), (3 * P, ["lena"])],
    ),
    # 18:30 Stockholm (anna off), 12:30 New York (carl on): in-hours first, order kept.
    "in hours first": Case(
        "ranking",
        PDB,
        "2026-03-03 17:30",
        steps=[(0, ["bo"]), (P, ["carl"]), (2 * P, ["anna", "dana"]), (3 * P, ["lena"])],
    ),
    # Sun 23:30 Stockholm on 2026-12-20: the day before anna's away range.
    "away: day before": Case(
        "ranking",
        PDB,
        "2026-12-20 22:30",
        steps=[(0, ["bo"]), (P, ["anna"]), (2 * P, ["carl", "dana"]), (3 * P, ["lena"])],
    ),
    # Mon 00:30 Stockholm = 2026-12-21 locally although still the 20th in UTC.
    "away: first day in own time zone": Case(
        "ranking",
        PDB,
        "2026-12-20 23:30",
        steps=[(0, ["bo"]), (P, ["carl"]), (2 * P, ["dana"]), (3 * P, ["lena"])],
    ),
    "away: last day, 23:59 local": Case(
        "ranking",
        PDB,
        "2027-01-03 22:59",
        steps=[(0, ["bo"]), (P, ["carl"]), (2 * P, ["dana"]), (3 * P, ["lena"])],
    ),
    "away: back at 00:00 local": Case(
        "ranking",
        PDB,
        "2027-01-03 23:00",
        steps=[(0, ["bo"]), (P, ["anna"]), (2 * P, ["carl", "dana"]), (3 * P, ["lena"])],
    ),
    "min_level: below-level people are not candidates": Case(
        "ranking",
        {"service": "pg-only"},
        "2026-03-03 10:00",
        steps=[(0, ["anna"]), (P, ["carl"]), (2 * P, ["lena"])],
    ),
    # anna and carl away: anyone with any postgres level, same order, minus away.
    "min_level fallback": Case(
        "ranking", {"service": "pg-only"}, "2026-12-25 12:00", steps=[(0, ["bo"]), (P, ["lena"])]
    ),
    "matched system with no candidate: only the lead step": Case(
        "ranking",
        {"service": "mainframe"},
        "2026-03-03 10:00",
        system="mainframe",
        steps=[(0, ["lena"])],
    ),
    # Sat 01:30 New York: inside dana's "Fri 22:00-02:00".
    "hours across midnight: inside": Case(
        "ranking",
        {"service": "ledger"},
        "2026-03-07 06:30",
        severity="warning",
        steps=[(0, ["dana"]), (P, ["lena"])],
    ),
    # Sat 02:30 New York: nobody in hours; anna starts Mon 08:00 CET = 07:00 UTC.
    "working-hours waits until Monday 08:00": Case(
        "ranking",
        {"service": "ledger"},
        "2026-03-07 07:30",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-03-09T07:00:00Z",
    ),
    # Thu 22:30 New York: the Friday-night window does not open on Thursday.
    "hours across midnight: only from the listed day": Case(
        "ranking",
        {"service": "ledger"},
        "2026-03-06 03:30",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-03-06T07:00:00Z",
    ),
    "never: dashboard only": Case(
        "ranking",
        {"service": "ledger"},
        "2026-03-03 10:00",
        severity="info",
        action="dashboard",
        steps=[],
        page_at=None,
    ),
    "unrouted: the lead is the only candidate": Case(
        "ranking",
        {"alertname": "Mystery", "customer": "acme"},
        "2026-03-03 10:00",
        system=None,
        steps=[(0, ["lena"])],
    ),
    "unrouted warning waits for the lead's hours": Case(
        "ranking",
        {"alertname": "Mystery"},
        "2026-03-07 12:00",
        severity="warning",
        system=None,
        action="wait",
        steps=[],
        page_at="2026-03-09T07:00:00Z",
    ),
    "per-system policy override": Case(
        "ranking",
        {"service": "fast"},
        "2026-03-07 07:30",
        severity="warning",
        system="fast",
        steps=[(0, ["carl", "anna", "dana"]), (30, ["lena"])],
    ),
    "ladder: empty step skipped": Case(
        "ladder",
        {"service": "db"},
        "2026-03-03 10:00",
        steps=[(0, ["amy"]), (60, ["ben", "cid"]), (120, ["lea"])],
    ),
    "match: monitor key": Case(
        "ranking",
        {"alertname": "CpuHigh"},
        "2026-03-03 10:00",
        source="grafana",
        system="by-monitor",
    ),
    "match: monitor key, other source": Case(
        "ranking", {"alertname": "CpuHigh"}, "2026-03-03 10:00", system=None
    ),
    "match: severity key is the normalised severity": Case(
        "ranking",
        {"alertname": "Noisy", "severity": "low"},
        "2026-03-03 10:00",
        system="by-severity",
    ),
    "match: a raw severity label is shadowed": Case(
        "ranking",
        {"alertname": "Noisy", "severity": "critical"},
        "2026-03-03 10:00",
        severity="warning",
        system=None,
        steps=[(0, ["lena"])],
    ),
    "match: missing label is empty": Case(
        "ranking", {"alertname": "Orphan"}, "2026-03-03 10:00", system="missing-label"
    ),
    "match: present label is not empty": Case(
        "ranking", {"alertname": "Orphan", "team": "ops"}, "2026-03-03 10:00", system=None
    ),
    "match: file order beats an exact entry later": Case(
        "ranking", {"alertname": "DiskFull"}, "2026-03-03 10:00", system="early-regex"
    ),
    "match: regexes match the whole value": Case(
        "ranking", {"alertname": "BigDiskFull"}, "2026-03-03 10:00", system="late-literal"
    ),
    "match: an entry needs every key": Case(
        "ranking",
        {"alertname": "PostgresDown", "customer": "globex"},
        "2026-03-03 10:00",
        system=None,
    ),
    "match: regex entry with a second key": Case(
        "ranking",
        {"alertname": "PostgresDown", "customer": "acme"},
        "2026-03-03 10:00",
        system="payments-db",
    ),
    # DST: "Sun 08:00-17:00" on each change day, warning = working hours only.
    "DST EU spring: 08:00 CEST is 06:00 UTC": Case(
        "dst",
        {"service": "eu"},
        "2026-03-29 06:00",
        severity="warning",
        steps=[(0, ["sven"]), (P, ["lead"])],
    ),
    "DST EU spring: wait a minute": Case(
        "dst",
        {"service": "eu"},
        "2026-03-29 05:59",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-03-29T06:00:00Z",
    ),
    "DST EU spring: 17:00 CEST closes at 15:00 UTC": Case(
        "dst",
        {"service": "eu"},
        "2026-03-29 15:00",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-04-05T06:00:00Z",
    ),
    "DST EU autumn: 08:00 CET is 07:00 UTC": Case(
        "dst",
        {"service": "eu"},
        "2026-10-25 06:30",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-10-25T07:00:00Z",
    ),
    "DST EU autumn: in hours": Case(
        "dst",
        {"service": "eu"},
        "2026-10-25 07:00",
        severity="warning",
        steps=[(0, ["sven"]), (P, ["lead"])],
    ),
    "DST US spring: 08:00 EDT is 12:00 UTC": Case(
        "dst",
        {"service": "us"},
        "2026-03-08 11:30",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-03-08T12:00:00Z",
    ),
    "DST US spring: in hours": Case(
        "dst",
        {"service": "us"},
        "2026-03-08 12:00",
        severity="warning",
        steps=[(0, ["nora"]), (P, ["lead"])],
    ),
    "DST US autumn: 08:00 EST is 13:00 UTC": Case(
        "dst",
        {"service": "us"},
        "2026-11-01 12:30",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-11-01T13:00:00Z",
    ),
    "DST: waiting over the weekend the clocks change": Case(
        "dst",
        {"service": "weekday"},
        "2026-03-28 12:00",
        severity="warning",
        action="wait",
        steps=[],
        page_at="2026-03-30T06:00:00Z",
    ),
}


@pytest.mark.parametrize("spec", CASES.values(), ids=CASES.keys())
def test_routing_case(spec: Case) -> None:
    """The decision of each case: system, action, steps (after_s, engineers) and page_at."""
    rules = case(spec.rules)
    decision = route(
        rules, alert(spec.labels, spec.severity, spec.source), utc(spec.at), load=spec.load
    )
    data = decision.to_json()
    if spec.system != "?":
        assert data["system"] == spec.system
        assert data["unrouted"] is (spec.system is None)
    assert data["action"] == spec.action
    if spec.steps is not None:
        assert data["steps"] == [{"after_s": s, "engineers": e} for s, e in spec.steps]
    if spec.action != "page":
        assert data["page_at"] == spec.page_at
    else:
        assert data["page_at"] == utc(spec.at).isoformat().replace("+00:00", "Z")


def test_ladder_repeat_and_exhaustion_come_from_policy() -> None:
    """repeat, ack_timeout and exhausted_every travel with the decision for escalation."""
    decision = route(case("ladder"), alert({"service": "db"}), utc("2026-03-03 10:00"))
    assert (decision.repeat, decision.ack_timeout_s, decision.exhausted_every_s) == (2, 60, 3600)
    assert decision.lead == "lea"


@pytest.mark.parametrize(
    "hours",
    [
        ["Mon-Fri 08:00-17:00"],
        ["Fri 22:00-02:00"],  # crosses midnight
        ["Sun 23:00-01:30", "Sat 00:00-24:00"],  # Sunday night wraps to Monday; 24:00
        ["Mon,Wed 09:00-12:00", "Wed 11:00-13:00", "daily 05:00-05:30"],  # overlapping
    ],
)
def test_week_mask_agrees_with_the_windows(hours: list[str]) -> None:
    """The per-minute lookup used when ranking says exactly what the windows say."""
    windows = tuple(parse_hours(text) for text in hours)
    mask = week_mask(windows)
    monday = datetime(2026, 3, 2)  # noqa: DTZ001 - a wall-clock time, as the windows read it
    for minute in range(MINUTES_PER_WEEK):
        local = monday + timedelta(minutes=minute)
        assert minute_of_week(local) == minute
        assert (mask[minute] == 1) is any(w.contains(local) for w in windows), local
