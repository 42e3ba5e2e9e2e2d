"""Slack DMs through the Web API (httpx): post a page, update it later, find it after a crash.

Slack answers most errors as HTTP 200 with `{"ok": false, "error": "…"}`; throttling is HTTP 429
with Retry-After. Both become ChannelError with the same flags the SMS channel uses.
"""

import logging
from collections.abc import Collection
from datetime import datetime

import httpx

from app.paging.base import ChannelError, Delivery, OutboundPage, maybe_sent, parse_retry_after
from app.paging.slack_actions import restated_blocks
from app.paging.text import Block, slack_blocks, slack_escape, slack_fallback

_log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api"

# The member or conversation cannot receive our DM.
_CONTACT_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "user_not_found", "is_archived", "user_disabled"}
)
# The bot token is wrong, revoked, or lacks a scope: an operator must fix the app.
_CONFIG_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
    }
)
# `ratelimited` comes with HTTP 429; `rate_limited` is the per-channel posting limit.
_RETRY_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
# Slack says of these that "some aspect of the operation" may have succeeded.
_PARTLY_DONE = frozenset({"internal_error", "fatal_error"})
_HISTORY_PAGES = 5


class SlackChannel:
    """The `slack` channel: a Block Kit DM to the engineer's member id, with action buttons."""

    name = "slack"

    def __init__(
        self, *, bot_token: str, api_url: str = DEFAULT_API_URL, timeout: float = 10.0
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=api_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {bot_token}"},
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"SlackChannel(api_url={str(self._http.base_url)!r})"  # never the token

    async def send(self, page: OutboundPage) -> Delivery:
        """Post `page` as a DM; the Delivery id is `channel:ts` for a later `update_message`."""
        payload: dict[str, object] = {
            "channel": page.to,
            "text": slack_fallback(page),
            "blocks": slack_blocks(page),
        }
        try:
            answer = await self._call("chat.postMessage", json=payload)
        except ChannelError as exc:
            _log.warning(
                "slack page %s to %s failed: %s (retryable=%s)",
                page.page_id,
                page.to,
                exc.code,
                exc.retryable,
                extra={"page_id": page.page_id, "incident_id": page.incident_id},
            )
            raise
        provider_id = f"{answer.get('channel')}:{answer.get('ts')}"
        _log.info(
            "slack page %s to %s posted: %s",
            page.page_id,
            page.to,
            provider_id,
            extra={"page_id": page.page_id, "incident_id": page.incident_id},
        )
        return Delivery(provider_id=provider_id, status="sent")

    async def update_message(
        self, channel: str, ts: str, *, text: str, blocks: list[Block] | None = None
    ) -> None:
        """Replace a posted message (e.g. "acked by Anna" without buttons); `text` is escaped."""
        payload: dict[str, object] = {"channel": channel, "ts": ts, "text": slack_escape(text)}
        if blocks is not None:
            payload["blocks"] = blocks
        await self._call("chat.update", json=payload)

    async def restate(self, page: OutboundPage, sent: str) -> Delivery:
        """Edit the page message `sent` ("channel:ts") to show the incident's state now: a
        status line, and only the buttons that still make sense."""
        conversation, _, ts = sent.partition(":")
        blocks = restated_blocks(page)
        title = slack_fallback(page)
        await self.update_message(conversation, ts, text=f"{title} - {page.status}", blocks=blocks)
        return Delivery(provider_id=sent, status="updated")

    async def find_sent(
        self, channel: str, since: datetime, text: str, exclude: Collection[str] = ()
    ) -> str | None:
        """`channel:ts` of a message with fallback `text` posted since `since`, or None.

        `channel` may be a member id (U…/W…): its DM conversation is opened first. Pass the
        `text.slack_fallback(page)` of the page in question.
        """
        if channel[:1] in ("U", "W"):
            opened = await self._call("conversations.open", data={"users": channel})
            conversation = opened.get("channel")
            channel = str(conversation.get("id")) if isinstance(conversation, dict) else channel
        wanted = {text, slack_escape(text)}
        params = {"channel": channel, "oldest": f"{since.timestamp():.6f}", "limit": "200"}
        # History comes newest first; ours is the earliest match (the last one seen): a later
        # match is a later page's identical message, maybe not yet in `exclude`.
        earliest = None
        for _ in range(_HISTORY_PAGES):
            answer = await self._call("conversations.history", data=params)
            for message in _messages(answer):
                found = f"{channel}:{message.get('ts')}"
                if message.get("text") in wanted and found not in exclude:
                    earliest = found
            cursor = _next_cursor(answer)
            if not cursor:
                break
            params["cursor"] = cursor
        return earliest

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        *,
        json: dict[str, object] | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, object]:
        """POST one Web API method; return the decoded body or raise ChannelError."""
        try:
            response = await self._http.post(method, json=json, data=data)
        except httpx.TimeoutException as exc:
            raise ChannelError(
                f"Slack {method} timed out",
                code="timeout",
                retryable=True,
                ambiguous=maybe_sent(exc),
            ) from exc
        except httpx.HTTPError as exc:
            raise ChannelError(
                f"Slack unreachable: {type(exc).__name__}",
                code="transport",
                retryable=True,
                ambiguous=maybe_sent(exc),
            ) from exc
        return _check(method, response)


def _check(method: str, response: httpx.Response) -> dict[str, object]:
    """Map an HTTP answer to its JSON body or a ChannelError."""
    status = response.status_code
    if status == httpx.codes.TOO_MANY_REQUESTS:
        raise ChannelError(
            f"Slack {method} rate limited",
            code="ratelimited",
            retryable=True,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status != httpx.codes.OK:
        retryable = status >= httpx.codes.INTERNAL_SERVER_ERROR
        raise ChannelError(
            f"Slack {method} HTTP {status}",
            code=f"http_{status}",
            retryable=retryable,
            ambiguous=retryable,
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise ChannelError(
            f"Slack {method} answered non-JSON", code="bad_response", retryable=True
        ) from exc
    if not isinstance(body, dict):
        raise ChannelError(
            f"Slack {method} answered {type(body).__name__}", code="bad_response", retryable=True
        )
    if body.get("ok") is not True:
        raise _error(method, str(body.get("error", "unknown_error")), response)
    return body


def _error(method: str, error: str, response: httpx.Response) -> ChannelError:
    message = f"Slack {method}: {error}"
    if error in _CONTACT_ERRORS:
        return ChannelError(message, code=error, retryable=False, contact_unhealthy=True)
    if error in _CONFIG_ERRORS:
        _log.error("Slack configuration error: %s; check SLACK_BOT_TOKEN and app scopes", error)
        return ChannelError(message, code=error, retryable=False, config_error=True)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return ChannelError(
        message,
        code=error,
        retryable=error in _RETRY_ERRORS,
        retry_after=retry_after,
        ambiguous=error in _PARTLY_DONE,
    )


def _messages(answer: dict[str, object]) -> list[dict[str, object]]:
    messages = answer.get("messages")
    if not isinstance(messages, list):
        return []
    return [message for message in messages if isinstance(message, dict)]


def _next_cursor(answer: dict[str, object]) -> str | None:
    meta = answer.get("response_metadata")
    cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None
