"""Sign in with an engineer (or customer) token or a one-time SMS code; sign out.

Every form here carries the CSRF token of the signed-out session. Each way in has limits of its
own (see WebState): wrong tokens per address; codes sent per address and per engineer; wrong
code guesses burn the code and back off per engineer. A right token is never refused.
"""

import math
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from app.store.tokens import Principal, TokenKind, hash_token
from app.store.web_sessions import create_session, new_session_id, revoke_session
from app.web.access import (
    Viewer,
    WebError,
    checked_form,
    client_key,
    services_of,
    viewer,
    web_state,
)
from app.web.otp import issue_code, verify_code
from app.web.render import page
from app.web.sessions import ttl_of

router = APIRouter(include_in_schema=False)
ViewerDep = Annotated[Viewer, Depends(viewer)]


def safe_next(url: str | None) -> str:
    """A local path to return to after sign-in (never another site)."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")):
        return "/"
    return url


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, who: ViewerDep, next: str = "/") -> Response:
    """The sign-in page (signed-in viewers go straight on)."""
    if who.principal is not None:
        return RedirectResponse(safe_next(next), 303)
    return await _form(request, who, next_url=safe_next(next))


async def _form(request: Request, who: Viewer, status: int = 200, **context: str) -> Response:
    values: dict[str, Any] = {"next_url": "/", "engineer": "", "message": "", "error": ""} | context
    return await page(request, "signin.html", who, title="Sign in", status=status, **values)


_TOO_MANY = "Too many attempts; wait."


@router.post("/signin")
async def signin_token(request: Request, who: ViewerDep) -> Response:
    """Sign in with a token pasted into the form."""
    form = await checked_form(request, who)
    next_url = safe_next(form.get("next"))
    principal, token = await _presented(request, form, TokenKind.ENGINEER, TokenKind.CUSTOMER)
    if principal is None:
        status, error = _token_miss(request, "Unknown or revoked token.")
        return await _form(request, who, status, next_url=next_url, error=error)
    return await _signed_in(
        request, who, principal.kind.value, principal.subject, hash_token(token), next_url
    )


@router.post("/signin/link")
async def confirm_customer_link(request: Request, who: ViewerDep) -> Response:
    """Start the customer session a `?token=` link's confirmation page asked for."""
    form = await checked_form(request, who)
    next_url = safe_next(form.get("next"))
    principal, token = await _presented(request, form, TokenKind.CUSTOMER)
    if principal is None:
        status, error = _token_miss(request, "This link is not valid (unknown or revoked token).")
        raise WebError(status, error)
    subject = principal.subject
    return await _signed_in(request, who, "customer", subject, hash_token(token), next_url)


async def _presented(
    request: Request, form: dict[str, str], *kinds: TokenKind
) -> tuple[Principal | None, str]:
    """The principal of the form's token when it is one of `kinds` (checked before any limit:
    a right token always signs in, however many wrong ones came from the same address)."""
    token = form.get("token", "").strip()[:200]
    principal = await services_of(request).tokens.principal(token) if token else None
    return (principal if principal is not None and principal.kind in kinds else None), token


def _token_miss(request: Request, error: str) -> tuple[int, str]:
    """Count a wrong token against the client address: 401, or 429 past the limit."""
    if not web_state(request).token_misses.allow(client_key(request)):
        return 429, _TOO_MANY
    return 401, error


async def _signed_in(
    request: Request,
    who: Viewer,
    kind: str,
    subject: str,
    token_hash: str | None,
    next_url: str,
    *,
    remember: bool = False,
) -> Response:
    """Store a new server-side session (ending the one it replaces) and set its cookie."""
    services = services_of(request)
    now, session_id = services.clock.now(), new_session_id()
    work = partial(
        _replace_session,
        old=who.session.sid,
        session_id=session_id,
        kind=kind,
        subject=subject,
        token_hash=token_hash,
        now=now,
        ttl=ttl_of(kind, remember=remember),
        user_agent=request.headers.get("user-agent", ""),
    )
    await services.db.transaction(work)
    response = RedirectResponse(next_url, 303)
    session = who.session.signed_in(kind, subject, now, session_id, remember=remember)
    web_state(request).codec.write(response, session)
    return response


def _replace_session(
    conn: Connection,
    *,
    old: str | None,
    session_id: str,
    kind: str,
    subject: str,
    token_hash: str | None,
    now: datetime,
    ttl: timedelta,
    user_agent: str,
) -> None:
    if old is not None:
        revoke_session(conn, session_id=old, now=now)
    create_session(
        conn,
        session_id=session_id,
        kind=kind,
        subject=subject,
        token_hash=token_hash,
        now=now,
        ttl=ttl,
        user_agent=user_agent,
    )


@router.post("/signin/code")
async def send_code(request: Request, who: ViewerDep) -> Response:
    """Text a one-time code to the engineer's phone in the skills map."""
    form = await checked_form(request, who)
    next_url, engineer = safe_next(form.get("next")), form.get("engineer", "").strip()[:100]
    state, key = web_state(request), client_key(request)
    if not (state.sends_per_engineer.allow(engineer) and state.sends_per_client.allow(key)):
        error = "Too many codes were sent; wait a few minutes, or sign in with your token."
        return await _form(request, who, 429, next_url=next_url, engineer=engineer, error=error)
    services = services_of(request)
    work = partial(
        issue_code,
        rules=services.rules.holder.rules,
        engineer=engineer,
        secret=state.secret,
        now=services.clock.now(),
    )
    if await services.db.transaction(work):
        services.escalation.kick()
    # The same answer either way: the form must not tell who is in the skills map.
    message = f"If {engineer} is in the skills map with a phone, a code is on its way."
    return await _form(request, who, next_url=next_url, engineer=engineer, message=message)


@router.post("/signin/verify")
async def check_code(request: Request, who: ViewerDep) -> Response:
    """Sign in with the code from the SMS."""
    form = await checked_form(request, who)
    next_url, engineer = safe_next(form.get("next")), form.get("engineer", "").strip()[:100]
    guesses = web_state(request).guesses
    wait_s = guesses.wait_s(engineer)
    if wait_s > 0:
        error = f"Too many wrong codes; try again in {math.ceil(wait_s)} s."
        return await _form(request, who, 429, next_url=next_url, engineer=engineer, error=error)
    services = services_of(request)
    work = partial(
        verify_code,
        engineer=engineer,
        code=form.get("code", "")[:20],
        secret=web_state(request).secret,
        now=services.clock.now(),
    )
    if not await services.db.transaction(work):
        guesses.failed(engineer)
        error = "That code is wrong or expired."
        return await _form(request, who, 401, next_url=next_url, engineer=engineer, error=error)
    guesses.succeeded(engineer)
    remember = form.get("remember") == "yes"
    return await _signed_in(
        request, who, TokenKind.ENGINEER.value, engineer, None, next_url, remember=remember
    )


@router.post("/signout")
async def signout(request: Request, who: ViewerDep) -> Response:
    """End the session: its server-side row is revoked, so copies of the cookie end too."""
    await checked_form(request, who)
    services = services_of(request)
    now = services.clock.now()
    if who.session.sid is not None:
        await services.db.transaction(partial(revoke_session, session_id=who.session.sid, now=now))
    response = RedirectResponse("/signin", 303)
    web_state(request).codec.clear(response, now)
    return response
