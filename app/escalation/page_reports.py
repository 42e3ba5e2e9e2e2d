"""What the incidents hear from paging: a fallback goes on the timeline, and when every channel
of a paged engineer failed, the ladder moves on at once instead of waiting out the step."""

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Connection

from app.escalation.timeline import record_event
from app.paging.base import PageKind
from app.paging.outcomes import FellBack, PageOutcome, Unreachable
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]


class IncidentPageReports:
    """`PageReports` for the incident core: the sender and Twilio's callbacks report here."""

    def report(self, conn: Connection, outcome: PageOutcome, now: datetime) -> None:
        """Note the outcome on the incident's timeline; an unreachable page moves its ladder."""
        if isinstance(outcome, FellBack):
            kind = "fallback"
            note = f"{outcome.channel} failed; falling back to {', '.join(outcome.to)}"
        else:
            kind, note = "page_failed", f"could not reach {outcome.engineer} on any channel"
        record_event(
            conn,
            outcome.incident_id,
            now,
            kind=kind,
            actor=outcome.engineer,
            channel=outcome.channel,
            note=note,
        )
        if isinstance(outcome, Unreachable) and outcome.kind is PageKind.PAGE:
            _move_on(conn, outcome, now)


def _move_on(conn: Connection, outcome: Unreachable, now: datetime) -> None:
    """The ladder moves on at once, if it is still at this page's cycle."""
    conn.execute(
        update(_incidents)
        .where(
            _incidents.c.id == outcome.incident_id,
            _incidents.c.state == "triggered",
            _incidents.c.cycle == outcome.cycle,
            _incidents.c.next_action_at > now,
        )
        .values(next_action_at=now)
    )
