"""API tokens: created once in plain text, kept only as SHA-256 hashes."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clock import as_utc
from app.store.tables import Base
from app.store.web_sessions import revoke_token_sessions

_tokens = Base.metadata.tables["api_tokens"]
ALL_SOURCES = "all"


class TokenKind(StrEnum):
    """What a token lets its holder do."""

    ENGINEER = "engineer"  # a team member: reads everything, acts as that engineer
    CUSTOMER = "customer"  # read-only, one customer's incidents
    WEBHOOK = "webhook"  # posts alerts for one source, or all


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as."""

    kind: TokenKind
    subject: str  # engineer id, customer name, or webhook source ("all" for any)

    def may_post(self, source: str) -> bool:
        """True when this principal may post webhooks for `source`."""
        return self.kind == TokenKind.WEBHOOK and self.subject in (ALL_SOURCES, source)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as `token list` shows it (never the secret)."""

    id: int
    kind: TokenKind
    subject: str
    created_at: datetime
    revoked_at: datetime | None


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    conn: AsyncConnection, *, kind: TokenKind, subject: str, now: datetime
) -> tuple[int, str]:
    """Create a token; returns its id and the plain token, which is never stored."""
    token = f"sp_{kind.value[0]}_{secrets.token_urlsafe(32)}"
    result = await conn.execute(
        insert(_tokens).returning(_tokens.c.id),
        {"token_hash": hash_token(token), "kind": kind, "subject": subject, "created_at": now},
    )
    return result.scalar_one(), token


async def list_tokens(conn: AsyncConnection) -> list[TokenInfo]:
    """Every token, oldest first."""
    rows = await conn.execute(select(_tokens).order_by(_tokens.c.id))
    return [
        TokenInfo(
            id=row.id,
            kind=TokenKind(row.kind),
            subject=row.subject,
            created_at=as_utc(row.created_at),
            revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        )
        for row in rows
    ]


async def revoke_token(conn: AsyncConnection, *, token_id: int, now: datetime) -> bool:
    """Revoke a token by id, ending its dashboard sessions; False when no such active token."""
    result = await conn.execute(
        update(_tokens)
        .where(_tokens.c.id == token_id, _tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await revoke_token_sessions(conn, token_id=token_id, now=now)
    return result.rowcount > 0


async def find_token(conn: AsyncConnection, token_hash: str) -> Principal | None:
    """The principal of one active token hash, or None."""
    row = (
        await conn.execute(
            select(_tokens.c.kind, _tokens.c.subject).where(
                _tokens.c.token_hash == token_hash, _tokens.c.revoked_at.is_(None)
            )
        )
    ).first()
    return Principal(TokenKind(row.kind), row.subject) if row else None


async def active_tokens(conn: AsyncConnection) -> dict[str, Principal]:
    """Hash → principal for every unrevoked token (the request-side cache's source)."""
    rows = await conn.execute(
        select(_tokens.c.token_hash, _tokens.c.kind, _tokens.c.subject).where(
            _tokens.c.revoked_at.is_(None)
        )
    )
    return {row.token_hash: Principal(TokenKind(row.kind), row.subject) for row in rows}
