"""What the incidents hear from paging: a fallback and a page the SMS throttle holds go on the
timeline, and when every channel of a paged engineer failed, the ladder moves on at once instead
of waiting out the step."""

from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from app.core.incident import EventKind
from app.incidents import store
from app.incidents.model import Event
from app.paging.base import PageKind
from app.paging.outbox import Held
from app.paging.outcomes import FellBack, PageOutcome, Unreachable


class IncidentPageReports:
    """`PageReports` for the incident core: the sender and Twilio's callbacks report here."""

    def report(self, conn: Connection, outcome: PageOutcome, now: datetime) -> None:
        """Note the outcome on the incident's timeline; an unreachable page moves its ladder."""
        if isinstance(outcome, FellBack):
            kind = EventKind.FALLBACK
            note = f"{outcome.channel} failed; falling back to {', '.join(outcome.to)}"
        elif isinstance(outcome, Held):
            kind = EventKind.PAGE_HELD
            due = f"{outcome.until.astimezone(UTC):%H:%M} UTC"
            note = f"{outcome.channel} to {outcome.engineer} held for the next bundle, due {due}"
        else:
            kind = EventKind.PAGE_FAILED
            note = f"could not reach {outcome.engineer} on any channel"
        event = Event(kind, note=note, actor=outcome.engineer, channel=outcome.channel)
        store.record(conn, outcome.incident_id, now, [event])
        if isinstance(outcome, Unreachable) and outcome.kind is PageKind.PAGE:
            store.move_on_now(conn, outcome.incident_id, outcome.cycle, now)
