"""Mount the dashboard on an app: pages, static files, sessions and its HTML error answers."""

from pathlib import Path
from typing import cast
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.config import Settings
from app.web import history, incident_pages, now, people, rules_page, signin, silences_page
from app.web.access import CustomerLink, SignInRequired, Viewer, WebError, WebState
from app.web.ratelimit import Backoff, RateLimiter
from app.web.render import NO_STORE, fragment, page
from app.web.sessions import SessionCodec, anonymous, session_secret

STATIC = Path(__file__).parent / "static"
_TITLES = {401: "Sign in first", 403: "Not allowed", 404: "Not found", 409: "Not done"}


def install(app: FastAPI, settings: Settings) -> None:
    """Add the dashboard's routes, static files and error pages to `app`."""
    secret = session_secret(settings)
    app.state.web = WebState(
        codec=SessionCodec(secret, secure=settings.public_url.startswith("https://")),
        secret=secret,
        # Generous per address: a whole office may sit behind one NAT address.
        token_misses=RateLimiter(30, 15 * 60),
        sends_per_client=RateLimiter(20, 15 * 60),
        # Each code is an SMS to the engineer's phone; three per code lifetime is plenty.
        sends_per_engineer=RateLimiter(3, 10 * 60),
        # Past one code's worth of wrong guesses: 1 s, 2 s, 4 s, … at most a minute apart.
        guesses=Backoff(free=3, base_s=1.0, cap_s=60.0),
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # silences_page before incident_pages: its /incidents/{id}/mute must win over {action}.
    for module in (signin, now, silences_page, incident_pages, people, rules_page, history):
        app.include_router(module.router)
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(CustomerLink, _customer_link)


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


async def _customer_link(request: Request, exc: Exception) -> Response:
    """A `?token=` link: drop the token when it is the session's already, else confirm first."""
    exc = cast(CustomerLink, exc)
    if exc.current:
        return RedirectResponse(exc.url, 303)
    response = await page(
        request,
        "link.html",
        exc.who,
        title=f"Continue as {exc.customer}?",
        customer=exc.customer,
        token=exc.token,
        next_url=exc.url,
    )
    # The address holds the token: never send it on in a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
