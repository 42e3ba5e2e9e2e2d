"""The ASGI app: FastAPI, with webhook POSTs handed straight to their handler.

Monitors post far more often than people click, and FastAPI's middleware, routing and
dependency layers cost a webhook as much CPU as parsing and storing its alert (measured with
py-spy under wrk). A webhook POST therefore skips them: same handler, same error answers (the
app's own exception handlers), same OpenAPI description (the routes stay declared).

Every answer, webhook or not, leaves through `secured`: the one place that sets the browser
security headers (no framing, no MIME sniffing, no cross-site referrer, the dashboard's CSP).
"""

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from app.api.errors import error_body
from app.api.webhooks import enqueue, post_alerts, receive_webhook
from app.bodies import capped

log = logging.getLogger(__name__)
_WEBHOOKS = "/webhooks/"
# The dashboard's policy: its own scripts and styles only, never inside another site's frame.
DASHBOARD_CSP = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
)
# The API docs pages run FastAPI's inline script and Swagger UI from its CDN: no framing only.
_DOCS_CSP = "frame-ancestors 'none'"
_DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
_COMMON = (
    (b"x-frame-options", b"DENY"),  # for browsers that predate frame-ancestors
    (b"x-content-type-options", b"nosniff"),
)
_OURS = {b"content-security-policy"} | {name for name, _ in _COMMON}
# The default; a page that sets its own keeps it (the token-link page says no-referrer: its
# address holds a token).
_REFERRER = (b"referrer-policy", b"same-origin")


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of every answer to `path` (ASGI raw form)."""
    policy = _DOCS_CSP if path in _DOCS_PATHS else DASHBOARD_CSP
    return [(b"content-security-policy", policy.encode()), *_COMMON]


def secured(send: Send, path: str) -> Send:
    """`send` with the security headers set on the response start (replacing any given; a page's
    own Referrer-Policy stays)."""
    ours = security_headers(path)

    async def send_secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            given = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _OURS]
            if not any(k.lower() == _REFERRER[0] for k, _ in given):
                given.append(_REFERRER)
            message = {**message, "headers": [*given, *ours]}
        await send(message)

    return send_secured


def webhook_source(path: str) -> str | None:
    """The source a webhook path posts for (`/webhooks/{source}`, `/v2/enqueue`), else None."""
    if path == "/v2/enqueue":
        return ""
    if path.startswith(_WEBHOOKS):
        source = path[len(_WEBHOOKS) :]
        if source and "/" not in source:
            return source
    return None


Handler = Callable[[Request], Awaitable[Response]]


def direct_handler(path: str) -> Handler | None:
    """The handler a webhook POST to `path` goes straight to (Alertmanager's `/api/v2/alerts`
    too), or None: FastAPI routes it."""
    if path == "/api/v2/alerts":
        return post_alerts
    source = webhook_source(path)
    if source is None:
        return None
    return partial(receive_webhook, source) if source else enqueue


class SkillpagerApp(FastAPI):
    """FastAPI with a direct path for webhook POSTs."""

    # No route may read more body than this (MAX_BODY_BYTES; create_app sets it).
    body_limit: int = 1024 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a webhook POST directly; everything else the FastAPI way."""
        handler = None
        if scope["type"] == "http":
            send = secured(send, scope["path"])
            if scope["method"] == "POST":
                handler = direct_handler(scope["path"])
        if handler is None:
            if scope["type"] == "http":
                receive = capped(receive, self.body_limit)
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive)
        response = await self._answer(request, handler)
        await response(scope, receive, send)

    async def _answer(self, request: Request, handler: Handler) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            on_error = self._handler_for(exc)
            if on_error is None:
                log.exception("webhook handler failed")
                return JSONResponse(error_body("internal error", None), 500)
            answer: Response = await on_error(request, exc)
            return answer

    def _handler_for(self, exc: Exception) -> Any:
        for kind in type(exc).__mro__:
            if kind in self.exception_handlers:
                return self.exception_handlers[kind]
        return None
