"""The channel seam: what the sender hands a channel, what it gets back, and how sends fail."""

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import httpx

from app.core.alert import Severity
from app.heartbeats.providers import ProviderFailure


class PageKind(StrEnum):
    """Why a message goes out."""

    PAGE = "page"
    BUNDLE = "bundle"
    REMINDER = "reminder"
    RESOLVED_NOTE = "resolved-note"
    TEST = "test"
    NOTICE = "notice"  # to the lead about the service itself (an engineer sent STOP, …)
    UPDATE = "update"  # a message already sent, edited to say the incident's state now


@dataclass(frozen=True, slots=True)
class OutboundPage:
    """One message to one engineer on one channel, as the sender hands it to `Channel.send`.

    `to` is an E.164 phone number (sms, voice) or a Slack member id (slack). `text` is the SMS
    body (see `text.sms_text`); the remaining fields feed the Slack Block Kit message.
    """

    page_id: int
    engineer_id: str
    channel: str
    to: str
    kind: PageKind
    incident_id: int | None
    text: str
    title: str = ""
    severity: Severity | None = None
    customer: str | None = None
    system: str | None = None
    summary: str = ""
    why: str | None = None
    runbook_url: str | None = None
    incident_url: str | None = None
    # An update (PageKind.UPDATE): the incident's state now, and the line saying who did what.
    state: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A provider accepted a message: its id (Twilio SID, Slack "channel:ts") and status."""

    provider_id: str
    status: str


_RATE_LIMITED = frozenset({"20429", "429", "ratelimited"})


class ChannelError(Exception):
    """A send failed; the fields tell the sender what to do next.

    - `retryable`: try again later (transport errors, timeouts, HTTP 5xx and 429), after
      `retry_after` seconds when the provider said so.
    - `config_error`: our credentials or sender setup are wrong; alert the operators.
    - `contact_unhealthy`: this contact can never receive it (invalid number, unsubscribed,
      unknown Slack user); fall back to the engineer's other channels.
    - `ambiguous`: the request may have reached the provider (a timeout or a dropped connection
      after it was written, a 5xx): look the message up there before sending it again.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        retryable: bool,
        retry_after: float | None = None,
        config_error: bool = False,
        contact_unhealthy: bool = False,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.config_error = config_error
        self.contact_unhealthy = contact_unhealthy
        self.ambiguous = ambiguous

    @property
    def is_outage(self) -> bool:
        """A failure on the provider's side worth retrying (5xx, timeout, unreachable), not a
        rate limit (429)."""
        return self.retryable and not self.config_error and self.code not in _RATE_LIMITED

    def as_provider_failure(self) -> ProviderFailure:
        """What provider health records of this failure."""
        return ProviderFailure(self.code, self.message, self.config_error, self.is_outage)

    def __repr__(self) -> str:
        return (
            f"ChannelError({self.message!r}, code={self.code!r}, retryable={self.retryable}, "
            f"retry_after={self.retry_after}, config_error={self.config_error}, "
            f"contact_unhealthy={self.contact_unhealthy}, ambiguous={self.ambiguous})"
        )


class Channel(Protocol):
    """A way to reach an engineer; `send` returns a Delivery or raises ChannelError.

    Every channel also answers `find_sent` (after a crash or an ambiguous failure: does the
    provider hold this message?) and `restate` (edit a message already sent to say the
    incident's state now); a channel that cannot do one says so (None, or ChannelError).
    """

    @property
    def name(self) -> str:
        """The channel name used in the skills map (`sms`, `slack`, `log`, …)."""
        ...

    async def send(self, page: OutboundPage) -> Delivery:
        """Hand one message to the provider; raise ChannelError on failure."""
        ...

    async def find_sent(
        self, address: str, since: datetime, text: str, exclude: Collection[str] = ()
    ) -> str | None:
        """The provider id of a message with `text` sent to `address` since `since` and not in
        `exclude` (ids other pages own), or None; ChannelError when the lookup fails."""
        ...

    async def restate(self, page: OutboundPage, sent: str) -> Delivery:
        """Edit the message `sent` (its provider id) to show `page` (an update); ChannelError
        when it cannot."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once at shutdown."""
        ...


def cannot_restate(channel: str) -> ChannelError:
    """What a channel whose messages cannot be edited (SMS, a call) raises from `restate`."""
    return ChannelError(
        f"{channel} messages cannot be edited", code="cannot_restate", retryable=False
    )


# A run of 7+ digits, possibly with spaces, dashes or a leading +: a phone number in free text.
_PHONE_RUN = re.compile(r"\+?\d[\d \-]{5,}\d")


def mask_phone(number: str) -> str:
    """Show only the last 4 digits of a phone number: `+46701112233` → `***2233`."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"***{digits[-4:]}" if len(digits) > 4 else "***"


def redact_phones(text: str) -> str:
    """Mask every phone-like number in free text (provider error messages echo the `To`)."""
    return _PHONE_RUN.sub(lambda match: mask_phone(match.group()), text)


# Failures raised before a single byte of the request left: the provider cannot have it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def maybe_sent(exc: httpx.HTTPError) -> bool:
    """Whether a transport failure leaves the outcome open: the request may have arrived."""
    return not isinstance(exc, _NOT_SENT)


def parse_retry_after(value: str | None) -> float | None:
    """Read a `Retry-After` header given in seconds; None when absent or not a number."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)
