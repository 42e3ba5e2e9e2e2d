"""The only code that writes `engineer_states`: what the team set at run time, and contacts
that cannot receive.

An engineer's row holds their run-time absence (`away 3d` by SMS), SMS opt-out (STOP), the
count of unparseable replies, and the channels a provider said can never reach them.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.clock import as_utc
from app.store.tables import Base
from app.store.upsert import insert_ignore

_states = Base.metadata.tables["engineer_states"]
_STATES = select(_states)


def unhealthy_channels(conn: Connection) -> dict[str, set[str]]:
    """Engineer → channels that cannot receive (failed numbers, STOP, unknown Slack user)."""
    found: dict[str, set[str]] = {}
    for row in conn.execute(_STATES):
        bad = {c for c in ("sms", "voice", "slack") if getattr(row, f"{c}_unhealthy")}
        if row.sms_opted_out:
            bad |= {"sms", "voice"}
        if bad:
            found[row.engineer] = bad
    return found


def away_overrides(conn: Connection, now: datetime) -> dict[str, datetime]:
    """Absences engineers set at run time (`away 3d` by SMS), still running at `now`."""
    rows = conn.execute(
        select(_states.c.engineer, _states.c.away_until).where(_states.c.away_until > now)
    ).all()
    return {row.engineer: as_utc(row.away_until) for row in rows}


def set_state(conn: Connection, engineer: str, now: datetime, **values: Any) -> None:
    """Set columns of an engineer's row, creating it first when they have none."""
    insert_ignore(conn, _states, [{"engineer": engineer, "updated_at": now}])
    conn.execute(
        update(_states).where(_states.c.engineer == engineer).values(updated_at=now, **values)
    )


def count_bad_reply(conn: Connection, engineer: str, now: datetime) -> int:
    """One more unparseable reply from this engineer; how many in a row now."""
    current = conn.execute(
        select(_states.c.bad_replies).where(_states.c.engineer == engineer)
    ).scalar()
    count = (current or 0) + 1
    set_state(conn, engineer, now, bad_replies=count)
    return count


def mark_unhealthy(
    conn: Connection, engineer: str, channel: str, reason: str, now: datetime
) -> None:
    """Flag an engineer's channel as unable to receive (shown by `check` and the dashboard)."""
    column = f"{channel}_unhealthy"
    if column in _states.c:
        set_state(conn, engineer, now, **{column: reason[:200]})
