"""Jinja2 rendering (autoescaped) with what every page shares: viewer, CSRF token, open count."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import as_utc
from app.web import queries
from app.web.access import Viewer, services_of, web_state

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Pages must not be cached by shared caches: they carry per-viewer data. (The security
# headers of every answer are set in one place, app/asgi.py.)
NO_STORE = {"Cache-Control": "no-store"}


def age(moment: datetime | None, now: datetime) -> str:
    """A short age: 45s, 12m, 3h 5m, 2d 4h."""
    if moment is None:
        return ""
    seconds = max(0, int((now - as_utc(moment)).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def stamp(moment: datetime | None) -> str:
    """A UTC time as "2026-11-25 14:00:05 UTC"."""
    return "" if moment is None else f"{as_utc(moment):%Y-%m-%d %H:%M:%S} UTC"


def duration(delta: timedelta | float | None) -> str:
    """Seconds or a timedelta as a short text (— when unknown)."""
    if delta is None:
        return "—"
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else delta
    minutes = seconds / 60
    return (
        f"{seconds:.0f}s"
        if seconds < 120
        else f"{minutes:.0f}m"
        if minutes < 120
        else f"{minutes / 60:.1f}h"
    )


_env.filters.update(stamp=stamp, duration=duration)


def fragment(template: str, **context: Any) -> str:
    """Render a template to text (a live-update fragment or part of a page)."""
    return _env.get_template(template).render(**context)


async def page(
    request: Request,
    template: str,
    who: Viewer,
    *,
    title: str,
    status: int = 200,
    open_count: int | None = None,
    **context: Any,
) -> HTMLResponse:
    """A full page: the template with the shared context; writes a fresh session cookie.

    `open_count` saves the count's query when the caller already knows it.
    """
    services = services_of(request)
    now = services.clock.now()
    count = open_count
    if count is None and who.principal is not None:
        async with AsyncSession(services.engine) as session:
            count = await queries.open_count(session, who.principal)
    html = _env.get_template(template).render(
        request=request,
        who=who,
        csrf=who.session.csrf,
        now=now,
        age=lambda moment: age(moment, now),
        open_count=count,
        title=title,
        **context,
    )
    response = HTMLResponse(html, status, headers=NO_STORE)
    if who.fresh:
        web_state(request).codec.write(response, who.session)
    return response


def html(text: str, status: int = 200) -> HTMLResponse:
    """A fragment response."""
    return HTMLResponse(text, status, headers=NO_STORE)


def shared(request: Request, who: Viewer) -> dict[str, Any]:
    """What a live fragment shares with its page: viewer, CSRF token, now, ages."""
    now = services_of(request).clock.now()
    return {"who": who, "csrf": who.session.csrf, "now": now, "age": lambda m: age(m, now)}


def live(request: Request, template: str, who: Viewer, **context: Any) -> HTMLResponse:
    """A live-update fragment of a page."""
    return html(fragment(template, **shared(request, who), **context))
