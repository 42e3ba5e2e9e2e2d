"""What the incidents hear from paging: a fallback goes on the timeline, and when every channel
of a paged engineer failed, the ladder moves on at once instead of waiting out the step."""

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Connection

from app.escalation.timeline import record_event
from app.paging.base import PageKind
from app.paging.outcomes import FellBack, PageOutcome
from app.store.tables import Base

_incidents = Base.metadata.tables["incidents"]


class IncidentPageReports:
    """`PageReports` for the incident core: the sender and Twilio's callbacks report here."""

    def report(self, conn: Connection, outcome: PageOutcome, now: datetime) -> None:
        """Note the outcome on the incident's timeline; an unreachable page moves its ladder."""
        if isinstance(outcome, FellBack):
            note = f"{outcome.channel} failed; falling back to {', '.join(outcome.to)}"
            record_event(
                conn,
                outcome.incident_id,
                now,
                kind="fallback",
                actor=outcome.engineer,
                channel=outcome.channel,
                note=note,
            )
            return
        record_event(
            conn,
            outcome.incident_id,
            now,
            kind="page_failed",
            actor=outcome.engineer,
            channel=outcome.channel,
            note=f"could not reach {outcome.engineer} on any channel",
        )
        if outcome.kind is not PageKind.PAGE:
            return
        # The ladder moves on at once, if it is still at this page's cycle.
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
