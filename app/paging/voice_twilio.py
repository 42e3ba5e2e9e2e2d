"""Voice pages through the official Twilio SDK: one call per page, TwiML sent inline.

The transport and the error mapping are those of the SMS channel (`sms_twilio`), so both
channels fail the same way; a few call-only error codes are classified here first. Status
callbacks go to `{public_url}/twilio/voice/status` (see `voice.call_outcome`); the pressed key
goes to `{public_url}/twilio/voice` (see `voice.page_call_twiml`).
"""

import logging
from collections.abc import Collection
from datetime import datetime

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.rest import Client

from app.paging.base import (
    ChannelError,
    Delivery,
    OutboundPage,
    PageKind,
    cannot_restate,
    mask_phone,
    redact_phones,
)

# Reuse the SMS channel's SDK transport and error mapping rather than a second copy.
from app.paging.sms_twilio import _guard_httpx_log, _HttpxTwilioClient, _lookup_error, _map_error
from app.paging.voice import page_call_twiml, say_and_hang_up, spoken_summary

_log = logging.getLogger(__name__)

# Call-only codes: the number cannot be called (13224, 21217) or our caller id / geo
# permissions are wrong (21210 From not verified, 21215 geo permission).
_CONTACT_CODES = frozenset({13223, 13224, 21217})
_CONFIG_CODES = frozenset({21210, 21215})
DEFAULT_RING_SECONDS = 30


class TwilioVoice:
    """The `voice` channel: calls the engineer and reads the page, keys 4/5/6 answer it.

    `from_` must be a Twilio phone number (a Messaging Service cannot call). `public_url` is
    required: the Gather action and status callback must be absolute URLs we receive.
    `ring_seconds` bounds the ringing so a voicemail greeting is less likely to pick up.
    """

    name = "voice"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_: str,
        public_url: str,
        api_url: str | None = None,
        timeout: float = 10.0,
        ring_seconds: int = DEFAULT_RING_SECONDS,
    ) -> None:
        if from_.startswith("MG"):
            raise ValueError("voice needs a Twilio phone number as caller id, not a MG… service")
        if not public_url:
            raise ValueError("voice needs PUBLIC_URL for the key-press and status callbacks")
        _guard_httpx_log()
        self._transport = _HttpxTwilioClient(api_url=api_url, timeout=timeout)
        self._client = Client(account_sid, auth_token, http_client=self._transport)
        self._from = from_
        self._public_url = public_url.rstrip("/")
        self._ring_seconds = ring_seconds

    def __repr__(self) -> str:
        return f"TwilioVoice(from_={self._from!r})"  # never the token

    async def send(self, page: OutboundPage) -> Delivery:
        """Place one call for `page`; the Delivery id is the call SID (`CA…`)."""
        twiml = self._twiml(page)
        try:
            call = await self._client.calls.create_async(
                to=page.to,
                from_=self._from,
                twiml=twiml,
                status_callback=f"{self._public_url}/twilio/voice/status",
                status_callback_method="POST",
                timeout=self._ring_seconds,
            )
        except ChannelError as exc:
            _log_failure(page, exc)
            raise
        except (TwilioRestException, TwilioServiceException, httpx.HTTPError) as exc:
            error = _map_call_error(exc)
            _log_failure(page, error)
            raise error from exc
        _log.info(
            "voice page %s to %s placed: %s (%s)",
            page.page_id,
            mask_phone(page.to),
            call.sid,
            call.status,
            extra={"page_id": page.page_id, "incident_id": page.incident_id},
        )
        return Delivery(provider_id=str(call.sid), status=str(call.status))

    async def find_sent(
        self, to: str, since: datetime, text: str, exclude: Collection[str] = ()
    ) -> str | None:
        """SID of a call placed to `to` since `since` that no other page owns, or None.

        Twilio does not list a call's TwiML, so `text` cannot be compared: a call is matched
        by number and time; `exclude` (SIDs other pages own) keeps it from being reused.
        """
        try:
            calls = await self._client.calls.list_async(to=to, page_size=50, limit=50)
        except (TwilioException, httpx.HTTPError) as exc:
            raise _lookup_error(exc) from exc
        for call in reversed(calls):  # oldest first: a later call may be a later page's
            created = call.date_created
            sid = str(call.sid)
            if sid not in exclude and isinstance(created, datetime) and created >= since:
                return sid
        return None

    def _twiml(self, page: OutboundPage) -> str:
        # Only a page about an incident has a menu; test pages and notes are just read out.
        if page.incident_id is None or page.kind not in (PageKind.PAGE, PageKind.REMINDER):
            return say_and_hang_up(spoken_summary(page.text))
        return page_call_twiml(
            public_url=self._public_url,
            incident_id=page.incident_id,
            page_id=page.page_id,
            summary=page.summary or page.title or page.text,
        )

    async def delivery_state(self, provider_id: str) -> str:
        """The call's status as Twilio has it now (queued, ringing, completed, no-answer …)."""
        try:
            call = await self._client.calls(provider_id).fetch_async()
        except (TwilioRestException, TwilioServiceException, httpx.HTTPError) as exc:
            raise _map_error(exc) from exc
        return str(call.status)

    async def restate(self, page: OutboundPage, sent: str) -> Delivery:
        """A sent call cannot be edited."""
        raise cannot_restate("voice")

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._transport.aclose()


def _map_call_error(exc: Exception) -> ChannelError:
    """Classify call-only Twilio codes; everything else maps as for SMS."""
    code = getattr(exc, "code", None)
    detail = redact_phones(str(getattr(exc, "msg", None) or ""))
    if code in _CONTACT_CODES:
        return ChannelError(detail, code=str(code), retryable=False, contact_unhealthy=True)
    if code in _CONFIG_CODES:
        return ChannelError(detail, code=str(code), retryable=False, config_error=True)
    return _map_error(exc)


def _log_failure(page: OutboundPage, error: ChannelError) -> None:
    extra = {"page_id": page.page_id, "incident_id": page.incident_id, "code": error.code}
    level = logging.ERROR if error.config_error else logging.WARNING
    _log.log(
        level,
        "voice page %s to %s failed: %s %s (retryable=%s, config_error=%s)",
        page.page_id,
        mask_phone(page.to),
        error.code,
        error.message,
        error.retryable,
        error.config_error,
        extra=extra,
    )
