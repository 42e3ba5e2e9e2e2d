"""Mount the dashboard on an app: pages, static files, sessions and its HTML error answers."""

from pathlib import Path
from typing import cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.config import Settings
from app.web import history, incident_pages, now, people, rules_page, signin, silences_page
from app.web.access import SessionRedirect, SignInRequired, Viewer, WebError, WebState, web_state
from app.web.ratelimit import RateLimiter
from app.web.render import NO_STORE, fragment
from app.web.sessions import SessionCodec, anonymous, session_secret

STATIC = Path(__file__).parent / "static"
_TITLES = {401: "Sign in first", 403: "Not allowed", 404: "Not found", 409: "Not done"}


def install(app: FastAPI, settings: Settings) -> None:
    """Add the dashboard's routes, static files and error pages to `app`."""
    secret = session_secret(settings)
    app.state.web = WebState(
        codec=SessionCodec(secret, secure=settings.public_url.startswith("https://")),
        secret=secret,
        per_client=RateLimiter(30, 15 * 60),
        per_person=RateLimiter(5, 15 * 60),
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # silences_page before incident_pages: its /incidents/{id}/mute must win over {action}.
    for module in (signin, now, silences_page, incident_pages, people, rules_page, history):
        app.include_router(module.router)
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(SessionRedirect, _session_redirect)


async def _web_error(request: Request, exc: Exception) -> Response:
    exc = cast(WebError, exc)
    who = Viewer(anonymous(request.app.state.services.clock.now()), None, fresh=False)
    title = _TITLES.get(exc.status, "Something went wrong")
    body = fragment(
        "error.html", who=who, csrf="", open_count=None, title=title, message=exc.message
    )
    return Response(body, exc.status, headers=NO_STORE, media_type="text/html")


async def _sign_in(_request: Request, exc: Exception) -> Response:
    exc = cast(SignInRequired, exc)
    return RedirectResponse(f"/signin?next={quote(exc.next_url, safe='/')}", 303)


async def _session_redirect(request: Request, exc: Exception) -> Response:
    exc = cast(SessionRedirect, exc)
    response = RedirectResponse(exc.url, 303)
    web_state(request).codec.write(response, exc.session)
    return response
