"""Sign in with an engineer (or customer) token or a one-time SMS code; sign out.

Every form here carries the CSRF token of the signed-out session; attempts are rate-limited
per client address and, for codes, per engineer.
"""

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.store.tokens import TokenKind, hash_token
from app.web.access import (
    Viewer,
    checked_form,
    client_key,
    services_of,
    viewer,
    web_state,
)
from app.web.otp import issue_code, verify_code
from app.web.render import page

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


def _limited(request: Request, *keys: str) -> bool:
    state = web_state(request)
    if not state.per_client.allow(client_key(request)):
        return True
    return any(not state.per_person.allow(key) for key in keys)


@router.post("/signin")
async def signin_token(request: Request, who: ViewerDep) -> Response:
    """Sign in with a token pasted into the form."""
    form = await checked_form(request, who)
    next_url = safe_next(form.get("next"))
    if _limited(request):
        return await _form(request, who, 429, next_url=next_url, error="Too many attempts; wait.")
    token = form.get("token", "").strip()
    principal = await services_of(request).tokens.principal(token) if token else None
    if principal is None or principal.kind == TokenKind.WEBHOOK:
        return await _form(request, who, 401, next_url=next_url, error="Unknown or revoked token.")
    return _signed_in(
        request, who, principal.kind.value, principal.subject, hash_token(token), next_url
    )


def _signed_in(
    request: Request, who: Viewer, kind: str, subject: str, token_hash: str | None, next_url: str
) -> Response:
    now = services_of(request).clock.now()
    response = RedirectResponse(next_url, 303)
    web_state(request).codec.write(response, who.session.signed_in(kind, subject, now, token_hash))
    return response


@router.post("/signin/code")
async def send_code(request: Request, who: ViewerDep) -> Response:
    """Text a one-time code to the engineer's phone in the skills map."""
    form = await checked_form(request, who)
    next_url, engineer = safe_next(form.get("next")), form.get("engineer", "").strip()[:100]
    if _limited(request, f"code:{engineer}"):
        return await _form(request, who, 429, next_url=next_url, error="Too many attempts; wait.")
    services = services_of(request)
    work = partial(
        issue_code,
        rules=services.rules.holder.rules,
        engineer=engineer,
        secret=web_state(request).secret,
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
    if _limited(request, f"code:{engineer}"):
        return await _form(request, who, 429, next_url=next_url, error="Too many attempts; wait.")
    services = services_of(request)
    work = partial(
        verify_code,
        engineer=engineer,
        code=form.get("code", "")[:20],
        secret=web_state(request).secret,
        now=services.clock.now(),
    )
    if not await services.db.transaction(work):
        error = "That code is wrong or expired."
        return await _form(request, who, 401, next_url=next_url, engineer=engineer, error=error)
    return _signed_in(request, who, TokenKind.ENGINEER.value, engineer, None, next_url)


@router.post("/signout")
async def signout(request: Request, who: ViewerDep) -> Response:
    """End the session."""
    await checked_form(request, who)
    response = RedirectResponse("/signin", 303)
    web_state(request).codec.clear(response, services_of(request).clock.now())
    return response
