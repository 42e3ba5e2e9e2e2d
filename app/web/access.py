"""Who is looking at the dashboard, what they may do, and the checks every form passes.

Pages resolve a `Viewer` from the session cookie and its server-side row (one indexed query);
`?token=` with a customer token shows a page that confirms before starting a customer session.
Team-only pages and every POST check the role here, and every POST checks the session's CSRF
token, before any handler code runs.
"""

import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from fastapi import Request
from starlette.requests import HTTPConnection

from app.bodies import read_body
from app.errors import TooLarge
from app.services import Services
from app.store.tokens import Principal, TokenKind, hash_token
from app.store.web_sessions import TOUCH_EVERY, LiveSession, find_session, touch_session
from app.web.ratelimit import Backoff, RateLimiter
from app.web.sessions import Session, SessionCodec, anonymous, csrf_matches


@dataclass(slots=True)
class WebState:
    """Dashboard state shared by requests: the session codec and the sign-in limits.

    Each limit guards one thing, so exhausting one never blocks another: a stranger who spends
    an engineer's code sends or guesses does not stop that engineer's token sign-in.
    """

    codec: SessionCodec
    secret: bytes  # keys the session signatures and the sign-in code hashes
    token_misses: RateLimiter  # wrong tokens per client address (a right one always passes)
    sends_per_client: RateLimiter  # codes texted per client address
    sends_per_engineer: RateLimiter  # codes texted to one engineer
    guesses: Backoff  # wrong code guesses per engineer


@dataclass(frozen=True, slots=True)
class Viewer:
    """The session of a request and, when signed in, its principal."""

    session: Session
    principal: Principal | None
    fresh: bool  # the session cookie must be (re)written
    token_hash: str | None = None  # of the token the session was signed in with

    def require(self) -> Principal:
        """The principal; 401 when signed out (dependencies check this first)."""
        if self.principal is None:
            raise WebError(401, "Sign in first.")
        return self.principal

    @property
    def is_team(self) -> bool:
        """A signed-in engineer."""
        return self.principal is not None and self.principal.kind == TokenKind.ENGINEER

    @property
    def customer(self) -> str | None:
        """The customer a customer session is limited to."""
        if self.principal is not None and self.principal.kind == TokenKind.CUSTOMER:
            return self.principal.subject
        return None


class WebError(Exception):
    """A dashboard answer other than the page: shown as a small HTML page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """An anonymous visitor asked for a page: send them to sign in, then back."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CustomerLink(Exception):
    """A `?token=` link with a customer token: drop the token from the URL when the session is
    already that token's, else ask before switching (never a silent sign-in: login CSRF)."""

    def __init__(self, who: Viewer, customer: str, token: str, url: str, *, current: bool) -> None:
        super().__init__(url)
        self.who = who
        self.customer = customer
        self.token = token
        self.url = url
        self.current = current


def services_of(request: HTTPConnection) -> Services:
    """The app's long-lived services."""
    services: Services = request.app.state.services
    return services


def web_state(request: HTTPConnection) -> WebState:
    """The dashboard's shared state."""
    state: WebState = request.app.state.web
    return state


async def viewer(request: Request) -> Viewer:
    """The viewer of a request (anonymous viewers get a session for CSRF)."""
    services = services_of(request)
    now = services.clock.now()
    session = web_state(request).codec.read(request, now)
    if session is None:
        found = Viewer(anonymous(now), None, fresh=True)
    else:
        found = await _signed_in_viewer(services, session, now)
    token = request.query_params.get("token")
    if token and request.method == "GET":
        await _customer_link(request, found, token)
    return found


async def _signed_in_viewer(services: Services, session: Session, now: datetime) -> Viewer:
    """The viewer of a valid cookie: its principal, if its server-side session still holds."""
    if session.sid is None:
        return Viewer(session, None, fresh=False)
    async with services.engine.connect() as conn:
        live = await find_session(conn, session.sid, now)
    if live is None:
        return Viewer(session, None, fresh=False)
    if now - live.last_seen_at > TOUCH_EVERY:
        await services.db.transaction(partial(touch_session, session_id=session.sid, now=now))
    return Viewer(session, _principal(services, live), fresh=False, token_hash=live.token_hash)


def _principal(services: Services, live: LiveSession) -> Principal | None:
    if live.kind == TokenKind.CUSTOMER.value:
        return Principal(TokenKind.CUSTOMER, live.subject)
    if live.kind != TokenKind.ENGINEER.value:
        return None
    # A code session holds while its engineer is in the skills map (a token one, while the
    # token is not revoked: find_session checks that).
    if live.token_hash is not None or live.subject in services.rules.holder.rules.engineers:
        return Principal(TokenKind.ENGINEER, live.subject)
    return None


async def _customer_link(request: Request, found: Viewer, token: str) -> None:
    principal = await services_of(request).tokens.principal(token)
    if principal is None or principal.kind != TokenKind.CUSTOMER:
        raise WebError(401, "This link is not valid (unknown or revoked token).")
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    url = request.url.path + ("?" + urllib.parse.urlencode(query) if query else "")
    current = found.customer == principal.subject and found.token_hash == hash_token(token)
    raise CustomerLink(found, principal.subject, token, url, current=current)


async def reader(request: Request) -> Viewer:
    """A signed-in engineer or customer; anonymous visitors are sent to sign in."""
    found = await viewer(request)
    if found.principal is None:
        raise SignInRequired(str(request.url.path))
    return found


async def fragment_reader(request: Request) -> Viewer:
    """Like `reader`, but answers 401 (a live fragment's script reloads the page)."""
    found = await viewer(request)
    if found.principal is None:
        raise WebError(401, "Signed out.")
    return found


async def team(request: Request) -> Viewer:
    """A signed-in engineer; customers get 403."""
    found = await reader(request)
    if not found.is_team:
        raise WebError(403, "This page is for the on-call team.")
    return found


async def read_form(request: Request, limit: int | None = None) -> dict[str, str]:
    """An url-encoded form body as field → first value; 413 past `limit` (MAX_FORM_BYTES)."""
    settings = services_of(request).settings
    try:
        body = await read_body(request, limit or settings.max_form_bytes)
    except TooLarge:
        raise WebError(413, "The form is too large.") from None
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if body and kind != "application/x-www-form-urlencoded":
        raise WebError(415, "Send the form as application/x-www-form-urlencoded.")
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


async def checked_form(
    request: Request, found: Viewer, *, limit: int | None = None
) -> dict[str, str]:
    """The form of a POST whose CSRF token matches the session's (else 403)."""
    form = await read_form(request, limit)
    if found.fresh or not csrf_matches(found.session, form.get("csrf")):
        raise WebError(403, "This form has expired; reload the page and try again.")
    return form


async def team_form(request: Request, *, limit: int | None = None) -> tuple[Viewer, dict[str, str]]:
    """A POST by a signed-in engineer with a valid CSRF token (the role checked before the
    body is read)."""
    found = await viewer(request)
    if found.principal is None:
        raise WebError(401, "Sign in first.")
    if not found.is_team:
        raise WebError(403, "Only the on-call team can do this.")
    return found, await checked_form(request, found, limit=limit)


def client_key(request: HTTPConnection) -> str:
    """The client address for rate limits."""
    return request.client.host if request.client else "unknown"
