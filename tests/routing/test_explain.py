"""Reasons on decisions, reason_for, the Decision JSON shape and group keys."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from app.routing.decision import Decision, group_key, reason_for, route
from tests.routing.support import alert, case, utc

CONTRACT_KEYS = {
    "system",
    "customer",
    "severity",
    "action",
    "page_at",
    "unrouted",
    "steps",
    "repeat",
    "reasons",
}
EXTRA_KEYS = {"group", "lead", "ack_timeout_s", "exhausted_every_s"}


def _reasons(decision: Decision) -> list[tuple[str | None, bool, str]]:
    return [(r.engineer, r.chosen, r.text) for r in decision.reasons]


def test_reasons_name_expert_levels_hours_and_min_level() -> None:
    """One reason per candidate considered, in order, with why they were (not) chosen."""
    decision = route(case("ranking"), alert({"service": "payments-db"}), utc("2026-03-03 17:30"))
    assert _reasons(decision) == [
        ("bo", True, "named expert for payments-db"),
        ("carl", True, "postgres 4 + payments 5 = 9"),
        (
            "anna",
            True,
            "postgres 5 + payments 4 = 9; outside working hours (Tue 18:30 Europe/Stockholm)",
        ),
        ("dana", True, "payments 3; outside working hours (Tue 12:30 America/New_York)"),
        ("lena", True, "level 1 < min_level 3; lead: last step of the ladder"),
    ]


def test_reasons_for_away_load_and_fallback() -> None:
    """Away people show their return date; the fallback says so; load is mentioned."""
    rules = case("ranking")
    decision = route(rules, alert({"service": "pg-only"}), utc("2026-12-25 12:00"))
    assert _reasons(decision) == [
        ("bo", True, "postgres 2 (fallback: nobody at level ≥ 3 available)"),
        ("lena", True, "postgres 1 (fallback: nobody at level ≥ 3 available)"),
        ("anna", False, "away until 2027-01-03"),
        ("carl", False, "away until 2026-12-26"),
        (None, False, "nobody at level ≥ 3 present: any level counts"),
    ]
    loaded = route(rules, alert({"service": "ledger"}), utc("2026-03-03 15:00"), load={"carl": 2})
    assert ("carl", True, "payments 5; 2 open incidents") in _reasons(loaded)


def test_reason_for_gives_own_reason_and_who_is_away() -> None:
    """The text for a page: the person's reason plus the away notes."""
    decision = route(case("ranking"), alert({"service": "payments-db"}), utc("2026-12-22 10:00"))
    assert reason_for(decision, "carl") == (
        "postgres 4 + payments 5 = 9; outside working hours (Tue 05:00 America/New_York); "
        "anna away until 2027-01-03"
    )
    assert reason_for(decision, "bo") == "named expert for payments-db; anna away until 2027-01-03"


def test_wait_and_dashboard_notes() -> None:
    """Decision-wide notes have engineer None."""
    rules = case("ranking")
    waiting = route(rules, alert({"service": "ledger"}, "warning"), utc("2026-03-07 07:30"))
    assert (
        None,
        False,
        "warning pages in working hours only: waiting until Mon 2026-03-09 07:00 UTC",
    ) in _reasons(waiting)
    assert all(not r.chosen for r in waiting.reasons)
    dashboard = route(rules, alert({"service": "ledger"}, "info"), utc("2026-03-03 10:00"))
    assert _reasons(dashboard)[-1] == (None, False, "info never pages: dashboard only")


def test_unrouted_reasons() -> None:
    """The lead is chosen because nothing matched."""
    decision = route(case("ranking"), alert({"alertname": "Mystery"}), utc("2026-03-03 10:00"))
    assert _reasons(decision) == [
        ("lena", True, "lead: no system matched"),
        (None, False, "no system matched: unrouted, grouped by alertname, customer"),
    ]


def test_decision_json_shape() -> None:
    """Exactly the contract keys (plus the documented extras), with JSON types."""
    decision = route(case("ranking"), alert({"service": "payments-db"}), utc("2026-03-03 10:00:07"))
    # Through JSON and back: the data must survive json.dumps unchanged.
    data: dict[str, Any] = json.loads(json.dumps(decision.to_json()))
    assert data == decision.to_json()
    assert set(data) == CONTRACT_KEYS | EXTRA_KEYS
    assert data["page_at"] == "2026-03-03T10:00:07Z"
    assert data["severity"] == "critical"
    assert data["customer"] == "acme"
    assert data["steps"][0] == {"after_s": 0, "engineers": ["bo"]}
    assert data["reasons"][0] == {
        "engineer": "bo",
        "chosen": True,
        "text": "named expert for payments-db",
    }
    assert Decision.model_validate(data) == decision
    # A stored decision is validated strictly when read back: no unknown keys in a reason.
    odd = {**data, "reasons": [{"engineer": "bo", "chosen": True, "text": "x", "extra": 1}]}
    with pytest.raises(ValidationError, match="extra"):
        Decision.model_validate(odd)


def test_group_key() -> None:
    """system:<name>, or unrouted:<group_by values joined by |> (missing = empty)."""
    rules = case("ranking")
    routed = alert({"service": "ledger"})
    assert group_key(rules, routed, route(rules, routed, utc("2026-03-03 10:00"))) == (
        "system:ledger"
    )
    lost = alert({"alertname": "Mystery", "customer": "acme"})
    assert group_key(rules, lost, None) == "unrouted:Mystery|acme"
    assert group_key(rules, alert({"alertname": "X"}), None) == "unrouted:X|"
    assert route(rules, lost, utc("2026-03-03 10:00")).group == "unrouted:Mystery|acme"
    assert group_key(rules, lost, "ledger") == "system:ledger"


def test_alert_without_group_labels_is_grouped_by_source_and_key() -> None:
    """Every group_by value empty: one incident per source and dedup key, and `route` says so."""
    rules = case("ranking")
    bare = alert({"team": "x"})
    decision = route(rules, bare, utc("2026-03-03 10:00"))
    assert decision.group == group_key(rules, bare, None) == "unrouted-key:alertmanager|test"
    notes = [reason.text for reason in decision.reasons if reason.engineer is None]
    assert any("grouped by source and dedup key" in note for note in notes)
