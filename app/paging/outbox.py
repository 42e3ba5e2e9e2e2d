"""The outbox's rows for the incident core: write pages, cancel them, find what was sent.

Every page is a row before any provider is called; the unique key (incident, cycle, step,
round, engineer, channel, kind) makes a second row for the same page impossible.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app.paging.base import PageKind
from app.store.tables import Base

_pages = Base.metadata.tables["pages"]
_PAGED = (PageKind.PAGE.value, PageKind.BUNDLE.value)
_SHOWN = (PageKind.PAGE.value, PageKind.BUNDLE.value, PageKind.REMINDER.value)
# Messages a later action edits in place: the channels whose messages stay on screen.
RESTATED_CHANNELS = ("slack",)
RESTATE_STEP = -2  # the step of update rows: they belong to no ladder position
_INSERT_PAGE = {
    "postgresql": postgresql.insert(_pages).on_conflict_do_nothing().returning(_pages.c.id),
    "sqlite": sqlite.insert(_pages).on_conflict_do_nothing().returning(_pages.c.id),
}


def insert_pages(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert outbox rows, skipping any whose page (unique key) exists; ids of those inserted."""
    statement = _INSERT_PAGE[conn.dialect.name]  # built once: a hot path
    inserted = (conn.execute(statement, row).scalar_one_or_none() for row in rows)
    return [page_id for page_id in inserted if page_id is not None]


def cancel_pending(conn: Connection, incident_id: int) -> None:
    """Nobody is paged after an ack: drop pages not yet handed to a provider."""
    conn.execute(
        update(_pages)
        .where(
            _pages.c.incident_id == incident_id,
            _pages.c.status == "pending",
            _pages.c.kind.in_(_PAGED),
        )
        .values(status="cancelled", last_error="incident no longer triggered")
    )


def engineers_paged(conn: Connection, incident_id: int) -> set[str]:
    """Engineers a page about the incident reached (sent or delivered)."""
    return set(
        conn.execute(
            select(_pages.c.engineer)
            .where(
                _pages.c.incident_id == incident_id,
                _pages.c.kind.in_(_PAGED),
                _pages.c.status.in_(("sent", "delivered")),
            )
            .distinct()
        ).scalars()
    )


_MESSAGES = (
    select(_pages.c.engineer, _pages.c.provider_id, _pages.c.payload)
    .where(
        _pages.c.incident_id == bindparam("incident"),
        _pages.c.channel.in_(RESTATED_CHANNELS),
        _pages.c.kind.in_(_SHOWN),
        _pages.c.provider_id.is_not(None),
    )
    .order_by(_pages.c.id)
)


def messages_of(conn: Connection, incident_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(engineer, message id, payload) of each message still on screen about the incident."""
    rows = conn.execute(_MESSAGES, {"incident": incident_id}).all()
    return [(row.engineer, str(row.provider_id), dict(row.payload or {})) for row in rows]


def enqueue_updates(
    conn: Connection,
    *,
    incident_id: int,
    cycle: int,
    messages: Sequence[tuple[str, str, dict[str, Any]]],
    status: str,
    state: str,
    now: datetime,
) -> int:
    """One update row per message, saying the incident's state now; how many were written.

    Each row has its own `round` (the incident's update rows so far, counted under the
    incident's lock), so a later action's update is a new page and a replay is not."""
    done = conn.execute(
        select(func.count()).where(
            _pages.c.incident_id == incident_id, _pages.c.kind == PageKind.UPDATE.value
        )
    ).scalar_one()
    rows = [
        {
            "incident_id": incident_id,
            "engineer": engineer,
            "channel": RESTATED_CHANNELS[0],
            "address": message,
            "kind": PageKind.UPDATE.value,
            "cycle": cycle,
            "step": RESTATE_STEP,
            "round": done + index,
            "text": status,
            "payload": {**payload, "update": message, "status": status, "state": state},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for index, (engineer, message, payload) in enumerate(messages)
    ]
    return len(insert_pages(conn, rows))
