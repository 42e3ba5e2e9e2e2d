"""Every state change of an incident, as pure functions: incident in, `Change` (or `Refused`) out.

A `Change` holds the new incident, the timeline events that say what happened, the pages to
write (`PageOrder`s) and what else the change sets off: pending pages cancelled, the resolved
note, dependents released, the channels that show the incident brought up to date. `apply.py`
carries a change out inside the caller's transaction; nothing here reads or writes anything.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.core.incident import EventKind, IncidentState
from app.incidents.ladder import plan_step
from app.incidents.model import Event, Incident, LadderMarks
from app.paging.base import PageKind


@dataclass(frozen=True, slots=True)
class Who:
    """Who acts, and through which way in (sms, voice, slack, api, web, or a monitor's name).

    `engineer` is None when a monitor acts (a PagerDuty `acknowledge` event): the timeline then
    names the integration.
    """

    engineer: str | None
    via: str

    @classmethod
    def source(cls, monitor: str) -> "Who":
        """A monitor acting through its integration."""
        return cls(None, monitor)

    @property
    def name(self) -> str:
        """How messages name the actor."""
        return self.engineer or self.via

    def event(self, kind: EventKind, note: str | None = None) -> Event:
        """An event this actor caused."""
        return Event(kind, note=note, actor=self.engineer, channel=self.via)


@dataclass(frozen=True, slots=True)
class PageOrder:
    """Pages to write: these engineers, of this kind, at (cycle, step, round)."""

    engineers: tuple[str, ...]
    kind: PageKind
    position: tuple[int, int, int]
    why: str | None = None  # instead of the decision's reason (a hand-over says who from)
    storm_note: str | None = None  # said ahead of the summary, once


@dataclass(frozen=True, slots=True)
class Change:
    """What a state change did."""

    incident: Incident
    events: tuple[Event, ...] = ()
    orders: tuple[PageOrder, ...] = ()
    cancel_pending: bool = False  # drop pages not yet handed to a provider
    resolved: bool = False  # tell whoever was paged, release dependents
    restate: bool = False  # bring the messages that show the incident up to date

    def then(self, later: "Change") -> "Change":
        """This change followed by `later` (made from this change's incident)."""
        return Change(
            later.incident,
            self.events + later.events,
            self.orders + later.orders,
            self.cancel_pending or later.cancel_pending,
            self.resolved or later.resolved,
            self.restate or later.restate,
        )


@dataclass(frozen=True, slots=True)
class Refused:
    """An action the incident's state does not allow, with a reason a person can read."""

    incident: Incident
    why: str


def unchanged(incident: Incident) -> Change:
    """Nothing needed doing (a repeated action): no events, nothing written."""
    return Change(incident)


def _refused_resolved(incident: Incident) -> Refused:
    return Refused(
        incident, f"#{incident.id} was resolved by {incident.resolved_by or 'its monitor'}"
    )


def _new_cycle(incident: Incident, now: datetime, next_action_at: datetime | None) -> Incident:
    """Triggered again at the ladder's first step, in a new cycle, nobody's acknowledgement."""
    return incident.with_changes(
        state=IncidentState.TRIGGERED,
        cycle=incident.cycle + 1,
        step_index=0,
        round=0,
        acknowledged_at=None,
        acknowledged_by=None,
        next_action_at=next_action_at,
    )


def _with_marks(incident: Incident, marks: LadderMarks) -> Incident:
    return incident.with_changes(flags=replace(incident.flags, marks=marks))


def acknowledge(
    incident: Incident, who: Who, now: datetime, *, reminder: timedelta, note: str | None = None
) -> Change | Refused:
    """Stop paging; the owner is reminded after `reminder`. On an acknowledged incident whose
    owner was reminded, the reply confirms they are still on it."""
    if incident.state is IncidentState.RESOLVED:
        return _refused_resolved(incident)
    marks = incident.flags.marks
    if incident.state is IncidentState.ACKNOWLEDGED:
        if marks.reminded_at is None:
            return unchanged(incident)
        confirmed = _with_marks(incident, replace(marks, reminded_at=None))
        confirmed = confirmed.with_changes(next_action_at=now + reminder)
        return Change(confirmed, (who.event(EventKind.REMINDER_CONFIRMED, note),))
    acked = incident.with_changes(
        state=IncidentState.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=who.engineer,
        next_action_at=now + reminder,
    )
    events = (who.event(EventKind.ACKNOWLEDGED, note),)
    return Change(acked, events, cancel_pending=True, restate=True)


def resolve(incident: Incident, who: Who, now: datetime, *, note: str | None = None) -> Change:
    """Resolved (by hand, or by its monitor): whoever was paged hears it, dependents are
    released."""
    if incident.state is IncidentState.RESOLVED:
        return unchanged(incident)
    done = incident.with_changes(
        state=IncidentState.RESOLVED,
        resolved_at=now,
        resolved_by=who.engineer,
        next_action_at=None,
    )
    events = (who.event(EventKind.RESOLVED, note),)
    return Change(done, events, cancel_pending=True, resolved=True, restate=True)


def escalate(
    incident: Incident, who: Who, now: datetime, *, note: str | None = None
) -> Change | Refused:
    """Page the next step now (an acknowledged or snoozed incident starts a new cycle first)."""
    if incident.state is IncidentState.RESOLVED:
        return _refused_resolved(incident)
    if incident.state is IncidentState.TRIGGERED:
        moved = incident.with_changes(next_action_at=now)
    else:
        moved = incident.with_changes(
            state=IncidentState.TRIGGERED,
            cycle=incident.cycle + 1,
            acknowledged_at=None,
            acknowledged_by=None,
            next_action_at=now,
        )
    return Change(moved, (who.event(EventKind.ESCALATED, note),), restate=True)


def snooze(
    incident: Incident, who: Who, now: datetime, *, minutes: int, note: str | None = None
) -> Change | Refused:
    """Quiet for `minutes`, then triggered again in a new cycle."""
    if incident.state is IncidentState.RESOLVED:
        return _refused_resolved(incident)
    quiet = incident.with_changes(
        state=IncidentState.SNOOZED, next_action_at=now + timedelta(minutes=minutes)
    )
    event = who.event(EventKind.SNOOZED, note or f"for {minutes} min")
    return Change(quiet, (event,), cancel_pending=True, restate=True)


def hand_over(
    incident: Incident,
    who: Who,
    now: datetime,
    *,
    to: str,
    known: bool,
    note: str | None = None,
) -> Change | Refused:
    """Page `to` now ("from anna"); if they do not act, the ladder starts again after them."""
    if incident.state is IncidentState.RESOLVED:
        return _refused_resolved(incident)
    if not known:
        return Refused(incident, f"unknown engineer {to!r}")
    timeout = incident.ladder.ack_timeout_s
    handed = _new_cycle(incident, now, now + timedelta(seconds=timeout))
    order = PageOrder(
        (to,), PageKind.PAGE, (handed.cycle, -1, 0), why=f"handed over from {who.name}"
    )
    event = who.event(EventKind.HANDOVER, note or f"from {who.name} to {to}")
    return Change(handed, (event,), (order,), cancel_pending=True, restate=True)


def mute(incident: Incident, who: Who, now: datetime, *, span: timedelta) -> Change | Refused:
    """Muted (the caller stores the silence): pending pages dropped, and a triggered incident
    is due now so the tick holds it until the silence ends."""
    if incident.state is IncidentState.RESOLVED:
        return _refused_resolved(incident)
    muted = incident
    if incident.state is IncidentState.TRIGGERED:
        muted = incident.with_changes(next_action_at=now)
    return Change(muted, (who.event(EventKind.MUTED, f"for {span}"),), cancel_pending=True)


def retrigger(incident: Incident, now: datetime, why: str) -> Change:
    """Back to triggered in a new cycle at the ladder's first step (a snooze ended, a reminder
    went unanswered)."""
    fresh = _new_cycle(incident, now, now)
    fresh = _with_marks(fresh, replace(fresh.flags.marks, reminded_at=None))
    return Change(fresh, (Event(EventKind.RETRIGGERED, note=why),), restate=True)


def page_step(incident: Incident, now: datetime, *, storm_note: str | None) -> Change:
    """Page the ladder's position and move on to the next one. Paging ends a suppression (an
    escalation by hand pages a suppressed incident)."""
    plan = plan_step(incident.ladder, incident.step_index, incident.round)
    flags = incident.flags
    holds = replace(flags.holds, suppressed=False, suppressed_by=None)
    marks = replace(flags.marks, exhausted=flags.marks.exhausted or plan.exhausted)
    moved = incident.with_changes(
        step_index=plan.next_step,
        round=plan.next_round,
        next_action_at=now + timedelta(seconds=plan.wait_s),
        flags=replace(flags, holds=holds, marks=marks),
    )
    where = "lead (ladder exhausted)" if plan.exhausted else f"step {plan.step + 1}"
    note = f"{where}, round {plan.round + 1}: paging {', '.join(plan.engineers)}"
    order = PageOrder(
        plan.engineers,
        PageKind.PAGE,
        (incident.cycle, plan.step, plan.round),
        storm_note=storm_note,
    )
    return Change(moved, (Event(EventKind.PAGED, note=note),), (order,))


def remind(incident: Incident, now: datetime, *, storm_note: str | None) -> Change:
    """Ack hygiene: remind the owner once; unconfirmed within the ack timeout, page again."""
    marks = incident.flags.marks
    owner = incident.acknowledged_by
    if marks.reminded_at is not None or owner is None:
        fresh = retrigger(incident, now, "reminder not acknowledged")
        return fresh.then(page_step(fresh.incident, now, storm_note=storm_note))
    timeout = incident.ladder.ack_timeout_s
    reminded = _with_marks(incident, replace(marks, reminded_at=now, reminders=marks.reminders + 1))
    reminded = reminded.with_changes(next_action_at=now + timedelta(seconds=timeout))
    order = PageOrder(
        (owner,),
        PageKind.REMINDER,
        (incident.cycle, -1, marks.reminders),
        storm_note=storm_note,
    )
    return Change(reminded, (Event(EventKind.REMINDER, actor=owner),), (order,))


def storm_told(incident: Incident) -> Incident:
    """The incident once a page has said its storm note."""
    flags = incident.flags
    return incident.with_changes(flags=replace(flags, storm=replace(flags.storm, told=True)))


def storm_note(incident: Incident) -> str | None:
    """What the next page says about a storm not yet told (`storm: 1,240 alerts in 60 s`)."""
    storm = incident.flags.storm
    if not storm.storm or storm.told:
        return None
    return f"storm: {storm.peak_rate:,} alerts in 60 s"
