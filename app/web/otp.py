"""One-time sign-in codes: six digits by SMS, stored as a keyed hash, short-lived, few guesses.

A code takes MAX_ATTEMPTS guesses; a wrong last one burns it (a new code must be sent), so the
guesses against an engineer are bounded by the codes sent to them, which are rate-limited.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from app.paging.base import PageKind
from app.paging.outbox import enqueue
from app.paging.requests import PageRequest, direct_request
from app.routing.rules import Rules
from app.store.tables import Base

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 3
_codes = Base.metadata.tables["sign_in_codes"]


def code_hash(secret: bytes, engineer: str, code: str) -> str:
    """The stored form of a code (keyed, so a database dump does not reveal it cheaply)."""
    return hmac.new(secret, f"{engineer}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(
    conn: Connection, *, rules: Rules, engineer: str, secret: bytes, now: datetime
) -> bool:
    """Store a new code and queue its SMS as an outbox notice; False without a phone."""
    person = rules.engineers.get(engineer)
    if person is None or person.phone is None:
        return False
    code = f"{secrets.randbelow(10**6):06d}"
    conn.execute(
        update(_codes)
        .where(_codes.c.engineer == engineer, _codes.c.used_at.is_(None))
        .values(used_at=now)  # only the newest code counts
    )
    conn.execute(
        insert(_codes),
        {
            "engineer": engineer,
            "code_hash": code_hash(secret, engineer, code),
            "created_at": now,
            "expires_at": now + CODE_TTL,
            "attempts": 0,
            "used_at": None,
        },
    )
    enqueue(conn, [_notice(engineer, person.phone, code)], now=now)
    return True


def _notice(engineer: str, phone: str, code: str) -> PageRequest:
    minutes = int(CODE_TTL.total_seconds() // 60)
    text = f"skillpager sign-in code: {code} (valid {minutes} min). Did not ask? Ignore this."
    return direct_request(
        engineer,
        "sms",
        phone,
        kind=PageKind.NOTICE,
        text=text,
        title="skillpager sign-in code",
        secret=True,
    )


def verify_code(
    conn: Connection, *, engineer: str, code: str, secret: bytes, now: datetime
) -> bool:
    """Check a code against the engineer's newest live one; every guess counts, a hit uses it,
    and a miss that uses up the code's guesses burns it."""
    row = conn.execute(
        select(_codes)
        .where(
            _codes.c.engineer == engineer,
            _codes.c.used_at.is_(None),
            _codes.c.expires_at > now,
        )
        .order_by(_codes.c.id.desc())
        .limit(1)
    ).first()
    if row is None or row.attempts >= MAX_ATTEMPTS:
        return False
    good = hmac.compare_digest(row.code_hash, code_hash(secret, engineer, code.strip()))
    values: dict[str, object] = {"attempts": row.attempts + 1}
    if good or row.attempts + 1 >= MAX_ATTEMPTS:
        values["used_at"] = now
    conn.execute(update(_codes).where(_codes.c.id == row.id).values(**values))
    return good
