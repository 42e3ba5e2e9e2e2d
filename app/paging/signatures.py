"""Verify that provider callbacks really come from Twilio and Slack. Pure: no I/O, no clock.

Both checks run over what the provider signed: Twilio signs our public URL plus the decoded
form fields, Slack signs the raw body bytes. Verify before parsing any business field.
"""

import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from twilio.request_validator import RequestValidator, get_signature_algorithm

SLACK_WINDOW_SECONDS = 300


class SignatureError(ValueError):
    """A callback failed verification: answer 403 and do nothing."""


class InvalidSignature(SignatureError):
    """The signature is missing, malformed or does not match."""


class StaleTimestamp(SignatureError):
    """The signed timestamp is outside the replay window."""


class _FormParams:
    """Form fields with repeats, shaped the way RequestValidator reads a MultiDict."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._pairs = pairs

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, _ in self._pairs])

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


def twilio_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio signed: our configured public base URL + path (+ `?` + raw query)."""
    url = public_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str] | Sequence[tuple[str, str]]
) -> str:
    """Compute `X-Twilio-Signature` for a form POST (used by tests and fake servers)."""
    return str(RequestValidator(auth_token).compute_signature(url, _as_params(params)))


def verify_twilio(
    *,
    auth_token: str,
    url: str,
    params: Mapping[str, str] | Sequence[tuple[str, str]],
    signature: str | None,
    signature_settings: str | None = None,
) -> None:
    """Raise InvalidSignature unless `signature` signs `url` and every decoded form field.

    `signature_settings` is the `X-Twilio-Webhooks-Signature-Settings` header, if any.
    """
    if not signature:
        raise InvalidSignature("missing X-Twilio-Signature")
    validator = RequestValidator(auth_token)
    algorithm = get_signature_algorithm(signature_settings)
    if not validator.validate(url, _as_params(params), signature, algorithm):
        raise InvalidSignature("X-Twilio-Signature does not match")


def _as_params(
    params: Mapping[str, str] | Sequence[tuple[str, str]],
) -> _FormParams:
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    return _FormParams(pairs)


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Compute `X-Slack-Signature` (v0) for a request body at `timestamp` (unix seconds)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def verify_slack(
    *,
    signing_secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    window_seconds: int = SLACK_WINDOW_SECONDS,
) -> None:
    """Raise StaleTimestamp or InvalidSignature unless Slack signed `body` within the window."""
    if not timestamp or not signature:
        raise InvalidSignature("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        signed_at = int(timestamp)
    except ValueError as exc:
        raise InvalidSignature("X-Slack-Request-Timestamp is not a number") from exc
    # Checked first so a captured request cannot be replayed later, signature or not.
    if abs(now.timestamp() - signed_at) > window_seconds:
        raise StaleTimestamp(f"timestamp {signed_at} is outside the {window_seconds}s window")
    expected = slack_signature(signing_secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InvalidSignature("X-Slack-Signature does not match")
