"""Who is looking at the dashboard, what they may do, and the checks every form passes.

Pages resolve a `Viewer` from the session cookie; `?token=` with a customer token starts a
customer session. Team-only pages and every POST check the role here, and every POST checks
the session's CSRF token, before any handler code runs.
"""

import urllib.parse
from dataclasses import dataclass

from fastapi import Request
from starlette.requests import HTTPConnection

from app.bodies import read_body
from app.errors import TooLarge
from app.services import Services
from app.store.tokens import Principal, TokenKind, hash_token
from app.web.ratelimit import RateLimiter
from app.web.sessions import Session, SessionCodec, anonymous, csrf_matches


@dataclass(slots=True)
class WebState:
    """Dashboard state shared by requests: the session codec and the sign-in limiters."""

    codec: SessionCodec
    secret: bytes  # keys the session signatures and the sign-in code hashes
    per_client: RateLimiter  # sign-in attempts per client address
    per_person: RateLimiter  # codes and code guesses per engineer


@dataclass(frozen=True, slots=True)
class Viewer:
    """The session of a request and, when signed in, its principal."""

    session: Session
    principal: Principal | None
    fresh: bool  # the session cookie must be (re)written

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


class SessionRedirect(Exception):
    """Start a new session and redirect (a `?token=` link drops the token from the URL)."""

    def __init__(self, url: str, session: Session) -> None:
        super().__init__(url)
        self.url = url
        self.session = session


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
    token = request.query_params.get("token")
    if token and request.method == "GET":
        await _link_sign_in(request, token)
    session = web_state(request).codec.read(request, now)
    if session is None:
        return Viewer(anonymous(now), None, fresh=True)
    return Viewer(session, await _principal(services, session), fresh=False)


async def _link_sign_in(request: Request, token: str) -> None:
    principal = await services_of(request).tokens.principal(token)
    if principal is None or principal.kind != TokenKind.CUSTOMER:
        raise WebError(401, "This link is not valid (unknown or revoked token).")
    now = services_of(request).clock.now()
    session = anonymous(now).signed_in("customer", principal.subject, now, hash_token(token))
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    url = request.url.path + ("?" + urllib.parse.urlencode(query) if query else "")
    raise SessionRedirect(url, session)


async def _principal(services: Services, session: Session) -> Principal | None:
    if session.kind is None:
        return None
    if session.token_hash is not None:
        found = await services.tokens.principal_of_hash(session.token_hash)
        return found if found is not None and found.subject == session.subject else None
    if session.kind == "engineer" and session.subject in services.rules.holder.rules.engineers:
        return Principal(TokenKind.ENGINEER, session.subject)
    return None


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
