"""Server-side dashboard sessions: made at sign-in, looked up once per request, revocable.

The cookie carries a random session id; only its SHA-256 is stored, so a database dump holds
no usable session. A session ends when it expires, when it is revoked (sign-out, "sign out
everywhere"), or when the token it was signed in with is revoked.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clock import as_utc
from app.store.tables import Base

_sessions = Base.metadata.tables["web_sessions"]
_tokens = Base.metadata.tables["api_tokens"]
# last_seen_at is rewritten at most this often: the Now page polls every few seconds, and a
# write per poll would cost more than the lookup itself.
TOUCH_EVERY = timedelta(minutes=5)
_UA_CHARS = 200


@dataclass(frozen=True, slots=True)
class LiveSession:
    """A session that is neither expired nor revoked (nor its token)."""

    kind: str
    subject: str
    token_hash: str | None  # of the token it was signed in with; None for an SMS code
    last_seen_at: datetime


def new_session_id() -> str:
    """A fresh session id (256 random bits) for the cookie."""
    return secrets.token_urlsafe(32)


def hash_session_id(session_id: str) -> str:
    """The stored form of a session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def user_agent_summary(user_agent: str) -> str:
    """What is kept of a User-Agent header: printable ASCII, at most 200 characters."""
    kept = "".join(c for c in user_agent if " " <= c <= "~")
    return kept[:_UA_CHARS]


def create_session(
    conn: Connection,
    *,
    session_id: str,
    kind: str,
    subject: str,
    token_hash: str | None,
    now: datetime,
    ttl: timedelta,
    user_agent: str,
) -> None:
    """Store a new session; `token_hash` links it to the token it was signed in with."""
    token_id = (
        None
        if token_hash is None
        else select(_tokens.c.id).where(_tokens.c.token_hash == token_hash).scalar_subquery()
    )
    conn.execute(
        insert(_sessions).values(
            id_hash=hash_session_id(session_id),
            kind=kind,
            subject=subject,
            token_id=token_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ttl,
            user_agent=user_agent_summary(user_agent),
            revoked_at=None,
        )
    )


async def find_session(conn: AsyncConnection, session_id: str, now: datetime) -> LiveSession | None:
    """The live session of an id: one query on the unique hash, joined to its token."""
    row = (
        await conn.execute(
            select(
                _sessions.c.kind,
                _sessions.c.subject,
                _sessions.c.token_id,
                _sessions.c.last_seen_at,
                _tokens.c.token_hash,
                _tokens.c.revoked_at.label("token_revoked_at"),
            )
            .select_from(_sessions.outerjoin(_tokens, _tokens.c.id == _sessions.c.token_id))
            .where(
                _sessions.c.id_hash == hash_session_id(session_id),
                _sessions.c.revoked_at.is_(None),
                _sessions.c.expires_at > now,
            )
        )
    ).first()
    if row is None or (row.token_id is not None and row.token_revoked_at is not None):
        return None
    return LiveSession(row.kind, row.subject, row.token_hash, as_utc(row.last_seen_at))


def touch_session(conn: Connection, *, session_id: str, now: datetime) -> None:
    """Record that a session was used now."""
    conn.execute(
        update(_sessions)
        .where(_sessions.c.id_hash == hash_session_id(session_id))
        .values(last_seen_at=now)
    )


def revoke_session(conn: Connection, *, session_id: str, now: datetime) -> None:
    """End one session (sign-out)."""
    conn.execute(
        update(_sessions)
        .where(_sessions.c.id_hash == hash_session_id(session_id), _sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_engineer_sessions(conn: Connection, *, engineer: str, now: datetime) -> int:
    """End every session of one engineer, however it was signed in; returns how many."""
    result = conn.execute(
        update(_sessions)
        .where(
            _sessions.c.subject == engineer,
            _sessions.c.kind == "engineer",
            _sessions.c.revoked_at.is_(None),
            _sessions.c.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)


async def revoke_token_sessions(conn: AsyncConnection, *, token_id: int, now: datetime) -> None:
    """End the sessions signed in with a token (at its revocation)."""
    await conn.execute(
        update(_sessions)
        .where(_sessions.c.token_id == token_id, _sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def live_engineer_sessions(conn: AsyncConnection, now: datetime) -> dict[str, int]:
    """Engineer → how many live sessions they have (the People page)."""
    rows = await conn.execute(
        select(_sessions.c.subject, func.count())
        .where(
            _sessions.c.kind == "engineer",
            _sessions.c.revoked_at.is_(None),
            _sessions.c.expires_at > now,
        )
        .group_by(_sessions.c.subject)
    )
    return {row[0]: int(row[1]) for row in rows}


def prune_sessions(conn: Connection, *, before: datetime) -> int:
    """Delete sessions that expired before `before` (revoked ones expire too); the count."""
    result = conn.execute(delete(_sessions).where(_sessions.c.expires_at < before))
    return int(result.rowcount)
