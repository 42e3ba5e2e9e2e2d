"""Dashboard sessions: a signed (HMAC-SHA256), HttpOnly, SameSite cookie, plus CSRF checks.

The cookie holds who signed in (engineer or customer), a per-session CSRF token, when it was
issued and the id of its server-side row (app/store/web_sessions.py): the row decides whether
the session still holds, so sign-out and revocation end every copy of the cookie at once.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.clock import as_utc
from app.config import Settings

log = logging.getLogger(__name__)
COOKIE = "skillpager_session"
TEAM_TTL = timedelta(hours=12)
CUSTOMER_TTL = timedelta(days=30)
REMEMBERED_TTL = timedelta(days=30)  # an engineer's "remember this phone" code sign-in


@dataclass(frozen=True, slots=True)
class Session:
    """One browser's session; `kind` None means signed out (it still carries a CSRF token)."""

    kind: str | None
    subject: str
    csrf: str
    issued_at: datetime
    sid: str | None = None  # the server-side session's id; None when signed out
    remember: bool = False  # "remember this phone": the longer lifetime

    def signed_in(
        self, kind: str, subject: str, now: datetime, sid: str, *, remember: bool = False
    ) -> "Session":
        """A fresh session for a sign-in (new CSRF token: no fixation of the old one)."""
        return Session(kind, subject, secrets.token_urlsafe(24), now, sid, remember)


def ttl_of(kind: str | None, *, remember: bool = False) -> timedelta:
    """How long a session lasts: 30 days for customers and remembered phones, else 12 hours."""
    if kind == "customer":
        return CUSTOMER_TTL
    return REMEMBERED_TTL if remember else TEAM_TTL


def anonymous(now: datetime) -> Session:
    """A signed-out session with its own CSRF token (so sign-in forms are protected too)."""
    return Session(None, "", secrets.token_urlsafe(24), now)


def session_secret(settings: Settings) -> bytes:
    """SESSION_SECRET, or a random one for this process with a warning (sessions end on restart)."""
    if settings.session_secret is not None and settings.session_secret.get_secret_value():
        return settings.session_secret.get_secret_value().encode()
    log.warning(
        "SKILLPAGER_SESSION_SECRET is not set: using a random one; dashboard sessions end at "
        "restart and differ between replicas"
    )
    return secrets.token_bytes(32)


class SessionCodec:
    """Signs sessions into cookie values and reads them back (None when forged or expired)."""

    def __init__(self, secret: bytes, *, secure: bool) -> None:
        self._secret = secret
        self.secure = secure

    def dump(self, session: Session) -> str:
        """The cookie value: base64url(JSON) + "." + base64url(HMAC)."""
        data = {
            "k": session.kind,
            "s": session.subject,
            "c": session.csrf,
            "t": session.issued_at.isoformat(),
            "i": session.sid,
            "r": session.remember,
        }
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
        return f"{body.decode()}.{self._sign(body)}"

    def load(self, value: str, now: datetime) -> Session | None:
        """The session in a cookie value, if its signature holds and it has not expired."""
        body, _, signature = value.partition(".")
        if not hmac.compare_digest(signature, self._sign(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
            session = Session(
                data["k"],
                data["s"],
                data["c"],
                as_utc(datetime.fromisoformat(data["t"])),
                data.get("i"),
                data.get("r") is True,
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        if session.kind is not None and not isinstance(session.sid, str):
            return None  # a signed-in cookie of the older format: no server-side session
        ttl = ttl_of(session.kind, remember=session.remember)
        return session if now - session.issued_at < ttl else None

    def _sign(self, body: bytes) -> str:
        digest = hmac.new(self._secret, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def read(self, request: HTTPConnection, now: datetime) -> Session | None:
        """The request's session cookie, if valid."""
        value = request.cookies.get(COOKIE)
        return self.load(value, now) if value else None

    def write(self, response: Response, session: Session) -> None:
        """Set the cookie: HttpOnly, SameSite=Lax (SMS links still open), Secure on https."""
        max_age = ttl_of(session.kind, remember=session.remember)
        response.set_cookie(
            COOKIE,
            self.dump(session),
            max_age=int(max_age.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
        )

    def clear(self, response: Response, now: datetime) -> None:
        """Replace the cookie with a signed-out one."""
        self.write(response, replace(anonymous(now)))


def csrf_matches(session: Session | None, presented: str | None) -> bool:
    """True when a form's CSRF field equals its session's token."""
    if session is None or not presented:
        return False
    return hmac.compare_digest(session.csrf.encode(), presented.encode())
