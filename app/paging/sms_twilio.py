"""SMS through the official Twilio SDK, async over httpx.

The SDK only builds requests and parses answers; `_HttpxTwilioClient` carries them, so one
connection pool serves every send, timeouts are ours, and `api_url` can point the SDK at
another host (a fake server in tests). A timeout after the request left, or a 5xx, is
ambiguous (`ChannelError.ambiguous`): the sender calls `find_sent` before sending it again.
"""

import logging
from collections.abc import Collection
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.paging.base import (
    ChannelError,
    Delivery,
    OutboundPage,
    cannot_restate,
    mask_phone,
    maybe_sent,
    parse_retry_after,
    redact_phones,
)

_log = logging.getLogger(__name__)

# The contact can never receive SMS: invalid number, landline, the person texted STOP.
_CONTACT_CODES = frozenset({21211, 21614, 21610})
# Our account or sender setup is wrong: bad credentials, region not enabled, bad From.
_CONFIG_CODES = frozenset({20003, 21408, 21212, 21606})
_RATE_LIMIT_CODE = 20429


class _RedactPhonesFilter(logging.Filter):
    """Mask phone numbers in httpx's request log lines (`GET …/Messages.json?To=%2B467…`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg if isinstance(arg, int | float) else redact_phones(str(arg))
                for arg in record.args
            )
        return True


def _guard_httpx_log() -> None:
    # httpx logs every request URL at INFO; find_sent puts the number in the query string.
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(existing, _RedactPhonesFilter) for existing in httpx_log.filters):
        httpx_log.addFilter(_RedactPhonesFilter())


class _HttpxTwilioClient(AsyncHttpClient):  # type: ignore[misc]  # twilio has no type hints
    """Twilio SDK transport over httpx; rewrites scheme and host when `api_url` is set."""

    def __init__(self, *, api_url: str | None, timeout: float) -> None:
        super().__init__(logger=_log, is_async=True, timeout=timeout)
        self._target = urlsplit(api_url) if api_url else None
        self._http = httpx.AsyncClient(timeout=timeout)

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature, passed to httpx
        allow_redirects: bool = False,
    ) -> Response:
        """Send one SDK request; raise ChannelError for 429 so Retry-After is not lost."""
        response = await self._http.request(
            method,
            self._redirect(uri),
            params=params,  # type: ignore[arg-type]  # the SDK passes str/int values
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        if response.status_code == httpx.codes.TOO_MANY_REQUESTS:
            raise ChannelError(
                "Twilio rate limit",
                code=str(_error_code(response) or _RATE_LIMIT_CODE),
                retryable=True,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return Response(response.status_code, response.text, response.headers)

    def _redirect(self, uri: str) -> str:
        if self._target is None:
            return uri
        parts = urlsplit(uri)
        base_path = self._target.path.rstrip("/")
        return urlunsplit(
            (self._target.scheme, self._target.netloc, base_path + parts.path, parts.query, "")
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


def _error_code(response: httpx.Response) -> int | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


class TwilioSms:
    """The `sms` channel: one Twilio message per page, status callbacks to `/twilio/status`.

    `from_` is a phone number or a Messaging Service SID (`MG…`). `public_url` is our external
    base URL; without it no StatusCallback is requested.
    """

    name = "sms"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_: str,
        public_url: str | None,
        api_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        _guard_httpx_log()
        self._transport = _HttpxTwilioClient(api_url=api_url, timeout=timeout)
        self._client = Client(account_sid, auth_token, http_client=self._transport)
        self._from = from_
        self._status_callback = f"{public_url.rstrip('/')}/twilio/status" if public_url else None

    def __repr__(self) -> str:
        return f"TwilioSms(from_={self._from!r})"  # never the token

    async def send(self, page: OutboundPage) -> Delivery:
        """Create one message for `page`; raise ChannelError (see module docs) on failure."""
        sender = (
            {"messaging_service_sid": self._from}
            if self._from.startswith("MG")
            else {"from_": self._from}
        )
        if self._status_callback:
            sender["status_callback"] = self._status_callback
        try:
            message = await self._client.messages.create_async(to=page.to, body=page.text, **sender)
        except ChannelError as exc:
            _log_failure(page, exc)
            raise
        except (TwilioRestException, TwilioServiceException, httpx.HTTPError) as exc:
            error = _map_error(exc)
            _log_failure(page, error)
            raise error from exc
        _log.info(
            "sms page %s to %s accepted: %s (%s)",
            page.page_id,
            mask_phone(page.to),
            message.sid,
            message.status,
            extra={"page_id": page.page_id, "incident_id": page.incident_id},
        )
        return Delivery(provider_id=str(message.sid), status=str(message.status))

    async def find_sent(
        self, to: str, since: datetime, text: str, exclude: Collection[str] = ()
    ) -> str | None:
        """SID of a message with body `text` sent to `to` since `since`, or None.

        For a page found in `sending` after a crash: did the provider get it before we died?
        """
        try:
            messages = await self._client.messages.list_async(
                # The SDK formats the filter with a literal "Z": it must be UTC already.
                to=to,
                date_sent_after=since.astimezone(UTC),
                page_size=100,
                limit=1000,
            )
        except (TwilioException, httpx.HTTPError) as exc:
            raise _lookup_error(exc) from exc
        # Twilio lists newest first; ours is the earliest match after `since` (a later match
        # is a later page's identical SMS, maybe still in flight and not yet in `exclude`).
        for message in reversed(messages):
            # Trial accounts prefix the body ("Sent from your Twilio trial account - ").
            # `exclude`: SIDs another page already owns (a later page with the same text).
            body = message.body if isinstance(message.body, str) else ""
            if body.endswith(text) and str(message.sid) not in exclude:
                return str(message.sid)
        return None

    async def restate(self, page: OutboundPage, sent: str) -> Delivery:
        """A sent SMS cannot be edited."""
        raise cannot_restate("sms")

    async def delivery_state(self, provider_id: str) -> str:
        """The message's status as Twilio has it now (queued, sent, delivered, failed …)."""
        try:
            message = await self._client.messages(provider_id).fetch_async()
        except (TwilioRestException, TwilioServiceException, httpx.HTTPError) as exc:
            raise _map_error(exc) from exc
        return str(message.status)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._transport.aclose()


def _lookup_error(exc: Exception) -> ChannelError:
    """A failed list call: mapped like a send failure, or (the SDK's page reader raises bare
    TwilioException for a 5xx) a retryable lookup failure."""
    if isinstance(exc, TwilioRestException | TwilioServiceException | httpx.HTTPError):
        return _map_error(exc)
    return ChannelError(f"Twilio lookup failed: {exc}"[:300], code="lookup", retryable=True)


def _map_error(exc: Exception) -> ChannelError:
    """Turn an SDK or transport failure into a ChannelError the sender can act on."""
    if isinstance(exc, httpx.TimeoutException):
        return ChannelError(
            "Twilio timed out", code="timeout", retryable=True, ambiguous=maybe_sent(exc)
        )
    if isinstance(exc, httpx.HTTPError):
        return ChannelError(
            f"Twilio unreachable: {type(exc).__name__}",
            code="transport",
            retryable=True,
            ambiguous=maybe_sent(exc),
        )
    status = int(getattr(exc, "status", 0) or 0)
    raw_code = getattr(exc, "code", None)
    code = raw_code if isinstance(raw_code, int) else status
    detail = redact_phones(str(getattr(exc, "msg", None) or getattr(exc, "detail", "") or ""))
    if code in _CONTACT_CODES:
        return ChannelError(detail, code=str(code), retryable=False, contact_unhealthy=True)
    if code in _CONFIG_CODES or status == httpx.codes.UNAUTHORIZED:
        return ChannelError(detail, code=str(code), retryable=False, config_error=True)
    server_error = status >= httpx.codes.INTERNAL_SERVER_ERROR
    retryable = code == _RATE_LIMIT_CODE or server_error
    # A 5xx may come after Twilio stored the message: settle it by a lookup, like a timeout.
    return ChannelError(detail, code=str(code), retryable=retryable, ambiguous=server_error)


def _log_failure(page: OutboundPage, error: ChannelError) -> None:
    extra = {"page_id": page.page_id, "incident_id": page.incident_id, "code": error.code}
    if error.config_error:
        _log.error(
            "Twilio configuration error %s sending page %s: check TWILIO_ACCOUNT_SID, "
            "TWILIO_AUTH_TOKEN and TWILIO_FROM (%s)",
            error.code,
            page.page_id,
            error.message,
            extra=extra,
        )
        return
    _log.warning(
        "sms page %s to %s failed: %s %s (retryable=%s)",
        page.page_id,
        mask_phone(page.to),
        error.code,
        error.message,
        error.retryable,
        extra=extra,
    )
