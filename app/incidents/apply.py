"""Carry out a `Change` inside the caller's transaction: pages, incident row, timeline, effects.

The one place a state change touches the database, so every way in (the tick, the writer's
batches, people's actions) writes an incident, its events and its pages the same way.
"""

from dataclasses import dataclass, field

from app.incidents import notify, store
from app.incidents.model import Incident
from app.incidents.notify import Effects
from app.incidents.rerouting import release_dependents
from app.incidents.transitions import Change, storm_told
from app.paging import outbox


@dataclass(frozen=True, slots=True)
class Applied:
    """What carrying out a change wrote: the incident as saved, pages written, and incidents
    due now because of it (dependents it released)."""

    incident: Incident
    pages: int = 0
    due: set[int] = field(default_factory=set)


def apply(effects: Effects, before: Incident, change: Change) -> Applied:
    """Write `change` (made from `before`) and set off what it asks for."""
    after = change.incident
    conn = effects.conn
    # Pages the SMS throttle still holds are cancelled below; their engineers hear of it.
    held = outbox.held_sms(conn, after.id) if change.resolved else set()
    if change.cancel_pending:
        outbox.cancel_pending_pages(conn, after.id)
    pages = 0
    for order in change.orders:
        written = notify.enqueue_order(effects, after, order)
        if order.storm_note is not None and written:
            after = storm_told(after)
        pages += written
    store.save(conn, before, after)
    store.record(conn, after.id, effects.now, change.events)
    due: set[int] = set()
    if change.resolved:
        pages += notify.tell_resolved(effects, after, held=held)
        due = release_dependents(effects, {after.id})
    if change.restate:
        notify.restate(effects, after, change.events)
    return Applied(after, pages, due)
