"""The incident's state changes as pure functions: each returns the new incident, its events and
its page orders, and refuses what the state does not allow."""

from datetime import UTC, datetime, timedelta
from typing import Any

from app.core.incident import EventKind, IncidentState
from app.incidents import transitions
from app.incidents.model import Holds, Incident, IncidentFlags, LadderMarks, StormFigures
from app.incidents.transitions import Change, Refused, Who
from app.paging.base import PageKind

NOW = datetime(2026, 12, 4, 3, 12, tzinfo=UTC)
BO = Who("bo", "sms")
DECISION: dict[str, Any] = {
    "system": "payments-db",
    "customer": "acme",
    "severity": "critical",
    "action": "page",
    "page_at": NOW.isoformat(),
    "unrouted": False,
    "steps": [
        {"after_s": 0, "engineers": ["bo"]},
        {"after_s": 300, "engineers": ["carl", "dana"]},
    ],
    "repeat": 0,
    "reasons": [],
    "group": "payments-db",
    "lead": "anna",
    "ack_timeout_s": 300,
    "exhausted_every_s": 1800,
}


def incident(**changes: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": 42,
        "group_key": "payments-db",
        "state": IncidentState.TRIGGERED,
        "system": "payments-db",
        "customer": "acme",
        "severity": "critical",
        "summary": "replica lag",
        "unrouted": False,
        "alert_count": 1,
        "opened_at": NOW,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "resolved_at": None,
        "resolved_by": None,
        "next_action_at": NOW,
        "decision_json": DECISION,
        "rules_version": "v1",
        "cycle": 1,
        "step_index": 0,
        "round": 0,
        "flags": IncidentFlags(),
    }
    return Incident(**(fields | changes))


def changed(result: Change | Refused) -> Change:
    assert isinstance(result, Change), result
    return result


def kinds(change: Change) -> list[str]:
    return [str(event.kind) for event in change.events]


def test_ack_stops_paging_and_restates_the_messages() -> None:
    change = changed(transitions.acknowledge(incident(), BO, NOW, reminder=timedelta(hours=1)))

    acked = change.incident
    assert (acked.state, acked.acknowledged_by) == (IncidentState.ACKNOWLEDGED, "bo")
    assert acked.next_action_at == NOW + timedelta(hours=1)
    assert kinds(change) == ["acknowledged"]
    assert (change.events[0].actor, change.events[0].channel) == ("bo", "sms")
    assert change.cancel_pending
    assert change.restate


def test_a_second_ack_changes_nothing_unless_a_reminder_went_out() -> None:
    acked = incident(state=IncidentState.ACKNOWLEDGED, acknowledged_by="bo")
    again = changed(transitions.acknowledge(acked, BO, NOW, reminder=timedelta(hours=1)))
    assert again == Change(acked)

    reminded = acked.with_changes(flags=IncidentFlags(marks=LadderMarks(reminded_at=NOW)))
    confirmed = changed(transitions.acknowledge(reminded, BO, NOW, reminder=timedelta(hours=1)))
    assert confirmed.incident.flags.marks.reminded_at is None
    assert kinds(confirmed) == ["reminder_confirmed"]


def test_every_action_on_a_resolved_incident_is_refused_with_who_resolved_it() -> None:
    done = incident(state=IncidentState.RESOLVED, resolved_by="carl")
    results = [
        transitions.acknowledge(done, BO, NOW, reminder=timedelta(hours=1)),
        transitions.escalate(done, BO, NOW),
        transitions.snooze(done, BO, NOW, minutes=30),
        transitions.hand_over(done, BO, NOW, to="carl", known=True),
        transitions.mute(done, BO, NOW, span=timedelta(hours=1)),
    ]
    assert {r.why for r in results if isinstance(r, Refused)} == {"#42 was resolved by carl"}
    assert all(isinstance(r, Refused) for r in results)
    assert transitions.resolve(done, BO, NOW) == Change(done)  # a repeat, not an error


def test_resolve_tells_the_paged_and_releases_dependents() -> None:
    change = transitions.resolve(incident(), Who.source("source"), NOW, note="all alerts resolved")

    assert change.incident.state is IncidentState.RESOLVED
    assert change.incident.resolved_by is None  # its monitor resolved it
    assert change.incident.next_action_at is None
    assert (change.resolved, change.cancel_pending, change.restate) == (True, True, True)


def test_escalate_from_acknowledged_starts_a_new_cycle_due_now() -> None:
    acked = incident(state=IncidentState.ACKNOWLEDGED, acknowledged_by="bo", step_index=1)
    moved = changed(transitions.escalate(acked, BO, NOW)).incident

    assert (moved.state, moved.cycle, moved.step_index) == (IncidentState.TRIGGERED, 2, 1)
    assert (moved.acknowledged_by, moved.next_action_at) == (None, NOW)


def test_snooze_quiets_for_the_minutes_given() -> None:
    change = changed(transitions.snooze(incident(), BO, NOW, minutes=45))

    assert change.incident.state is IncidentState.SNOOZED
    assert change.incident.next_action_at == NOW + timedelta(minutes=45)
    assert change.events[0].note == "for 45 min"


def test_hand_over_pages_the_target_in_a_new_cycle_and_says_who_from() -> None:
    assert isinstance(transitions.hand_over(incident(), BO, NOW, to="zed", known=False), Refused)

    change = changed(transitions.hand_over(incident(), BO, NOW, to="carl", known=True))

    [order] = change.orders
    assert order.engineers == ("carl",)
    assert (order.kind, order.position, order.why) == (
        PageKind.PAGE,
        (2, -1, 0),
        "handed over from bo",
    )
    assert change.incident.next_action_at == NOW + timedelta(seconds=300)
    assert change.events[0].note == "from bo to carl"


def test_page_step_walks_the_ladder_and_ends_a_suppression() -> None:
    held = incident(flags=IncidentFlags(holds=Holds(suppressed=True, suppressed_by=7)))
    first = transitions.page_step(held, NOW, storm_note=None)

    [order] = first.orders
    assert (order.engineers, order.position) == (("bo",), (1, 0, 0))
    assert (first.incident.step_index, first.incident.round) == (1, 0)
    assert first.incident.next_action_at == NOW + timedelta(seconds=300)
    assert not first.incident.flags.holds.suppressed
    assert first.events[0].note == "step 1, round 1: paging bo"

    second = transitions.page_step(first.incident, NOW, storm_note=None)
    assert second.orders[0].engineers == ("carl", "dana")
    last = transitions.page_step(second.incident, NOW, storm_note=None)
    assert last.orders[0].engineers == ("anna",)  # past the last round: the lead
    assert last.incident.flags.marks.exhausted


def test_remind_once_then_page_again_in_a_new_cycle() -> None:
    acked = incident(state=IncidentState.ACKNOWLEDGED, acknowledged_by="bo")
    reminded = transitions.remind(acked, NOW, storm_note=None)

    assert [(o.engineers, o.kind) for o in reminded.orders] == [(("bo",), PageKind.REMINDER)]
    assert reminded.incident.flags.marks.reminders == 1

    later = NOW + timedelta(minutes=5)
    again = transitions.remind(reminded.incident, later, storm_note=None)
    assert kinds(again) == ["retriggered", "paged"]
    assert (again.incident.state, again.incident.cycle) == (IncidentState.TRIGGERED, 2)
    assert again.orders[0].engineers == ("bo",)


def test_mute_makes_a_triggered_incident_due_so_the_tick_holds_it() -> None:
    waiting = incident(next_action_at=NOW + timedelta(minutes=5))
    change = changed(transitions.mute(waiting, BO, NOW, span=timedelta(hours=2)))

    assert change.incident.next_action_at == NOW
    assert change.cancel_pending
    assert change.events[0].kind is EventKind.MUTED


def test_the_storm_note_is_said_once() -> None:
    storm = IncidentFlags(storm=StormFigures(events=1240, peak_rate=1240))
    loud = incident(flags=storm)

    assert transitions.storm_note(loud) == "storm: 1,240 alerts in 60 s"
    assert transitions.storm_note(transitions.storm_told(loud)) is None


def test_flags_survive_their_stored_shape() -> None:
    flags = IncidentFlags(
        holds=Holds(maintenance_until=NOW, flapping_keys=("k",), flapping_until=NOW),
        storm=StormFigures(events=3, keys=2, recent=("a", "b"), rate_start=NOW, rate_count=3),
        marks=LadderMarks(exhausted=True, reminded_at=NOW, reminders=1),
    )
    assert IncidentFlags.from_json(flags.to_json()) == flags
    customer = flags.for_customer()
    assert (customer.marks, customer.holds.flapping_keys) == (LadderMarks(), ())
    assert customer.holds.flapping
