"""Amazon SNS HTTPS deliveries: envelope parsing, URL and topic checks, signature verification.

The flow a router follows: `parse_envelope(body)` → `check_envelope(envelope, allowed_topics)`
(before any fetch) → load the PEM of `envelope.signing_cert_url` (see sns_certs) →
`verify_signature(envelope, pem, now=...)` → act on `envelope.type`. `check_age` refuses a
message stamped more than MAX_AGE ago (or MAX_SKEW ahead): signed bytes are replayable, and a
stored MessageId is remembered (retention keeps it) only for ACCEPTANCE_WINDOW.
"""

import base64
import binascii
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.ingest.base import ParseError, SchemaError
from app.ingest.common import Node, Rejected, load_object

# The default of both AWS validators; it rejects S3 buckets and other *.amazonaws.com hosts.
_SNS_HOST = re.compile(r"sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?")
# SignatureVersion 1 (SHA1) is still SNS's default, so it must verify; topics may opt into 2.
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
# SNS's default HTTP/S retry policy gives up about 20 minutes after the first try (and a custom
# policy at most an hour later), so a genuine delivery is never older than this.
MAX_AGE = timedelta(hours=1)
# How far ahead of our clock a Timestamp may be (clock skew between AWS and us).
MAX_SKEW = timedelta(minutes=15)
# How long a MessageId must be remembered for a redelivery to be caught as a duplicate.
ACCEPTANCE_WINDOW = MAX_AGE + MAX_SKEW


class SnsRejected(Rejected):
    """An SNS delivery that must not be trusted (bad URL, topic, cert or signature): 403."""


class SnsMessageType(StrEnum):
    """The `Type` of an SNS HTTPS delivery."""

    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    NOTIFICATION = "Notification"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


@dataclass(frozen=True, slots=True)
class SnsEnvelope:
    """The SNS JSON envelope; `message_id` is the delivery-idempotency key (retries reuse it)."""

    type: SnsMessageType
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    signature_version: str
    signature: str
    signing_cert_url: str
    subject: str | None = None
    token: str | None = None
    subscribe_url: str | None = None
    unsubscribe_url: str | None = None


def parse_envelope(body: bytes) -> SnsEnvelope:
    """Decode an SNS HTTPS body (sent as text/plain JSON) into its envelope."""
    root = load_object(body)
    if "Type" not in root.value and "AlarmName" in root.value:
        # Raw message delivery drops the envelope and so the signature: refuse it.
        raise ParseError("SNS raw message delivery cannot be authenticated; disable it")
    raw_type = root.req_text("Type")
    try:
        message_type = SnsMessageType(raw_type)
    except ValueError:
        raise SchemaError("Type", f"unknown SNS message type {raw_type[:40]!r}") from None
    is_notification = message_type is SnsMessageType.NOTIFICATION
    return SnsEnvelope(
        type=message_type,
        message_id=root.req_text("MessageId"),
        topic_arn=root.req_text("TopicArn"),
        message=_string(root, "Message"),
        timestamp=root.req_text("Timestamp"),
        signature_version=root.req_text("SignatureVersion"),
        signature=root.req_text("Signature"),
        signing_cert_url=root.req_text("SigningCertURL"),
        subject=_optional_string(root, "Subject") if is_notification else None,
        token=None if is_notification else root.req_text("Token"),
        subscribe_url=None if is_notification else root.req_text("SubscribeURL"),
        unsubscribe_url=_optional_string(root, "UnsubscribeURL"),
    )


def _string(root: Node, key: str) -> str:
    value = root.value.get(key)
    if not isinstance(value, str):
        raise SchemaError(key, "expected a string")
    return value


def _optional_string(root: Node, key: str) -> str | None:
    # SNS omits an unset Subject; some relays send null, which means the same.
    return _string(root, key) if root.has(key) else None


def string_to_sign(envelope: SnsEnvelope) -> bytes:
    """Build the canonical "Key\\nvalue\\n" string SNS signs, keys in byte order."""
    if envelope.type is SnsMessageType.NOTIFICATION:
        fields = [
            ("Message", envelope.message),
            ("MessageId", envelope.message_id),
            ("Subject", envelope.subject),
            ("Timestamp", envelope.timestamp),
            ("TopicArn", envelope.topic_arn),
            ("Type", envelope.type.value),
        ]
    else:
        fields = [
            ("Message", envelope.message),
            ("MessageId", envelope.message_id),
            ("SubscribeURL", envelope.subscribe_url),
            ("Timestamp", envelope.timestamp),
            ("Token", envelope.token),
            ("TopicArn", envelope.topic_arn),
            ("Type", envelope.type.value),
        ]
    return "".join(f"{key}\n{value}\n" for key, value in fields if value is not None).encode()


def check_sns_url(url: str, *, what: str, pem: bool) -> None:
    """Require https, a host sns.<region>.amazonaws.com(.cn) and (for certs) a .pem path."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise SnsRejected(f"{what} is not a URL") from None
    if parts.scheme != "https" or port not in (None, 443) or parts.username is not None:
        raise SnsRejected(f"{what} must be plain https")
    if not _SNS_HOST.fullmatch(host):
        raise SnsRejected(f"{what} host {host[:80]!r} is not an SNS endpoint")
    if pem and not parts.path.endswith(".pem"):
        raise SnsRejected(f"{what} does not name a .pem file")


def check_topic(topic_arn: str, allowed_topics: Collection[str]) -> None:
    """Refuse a topic that is not on the allow-list (an empty list refuses every topic)."""
    if topic_arn not in allowed_topics:
        raise SnsRejected(f"topic {topic_arn[:200]!r} is not allowed")


def check_envelope(envelope: SnsEnvelope, allowed_topics: Collection[str]) -> None:
    """Every check that needs no certificate; run it before fetching anything."""
    check_topic(envelope.topic_arn, allowed_topics)
    if envelope.signature_version not in _HASHES:
        raise SnsRejected(f"unsupported SignatureVersion {envelope.signature_version[:10]!r}")
    check_sns_url(envelope.signing_cert_url, what="SigningCertURL", pem=True)
    if envelope.subscribe_url is not None:
        check_sns_url(envelope.subscribe_url, what="SubscribeURL", pem=False)


def check_age(envelope: SnsEnvelope, now: datetime) -> None:
    """Refuse a message stamped before MAX_AGE ago or after MAX_SKEW ahead (403)."""
    try:
        stamped = datetime.fromisoformat(envelope.timestamp)
    except ValueError:
        raise SchemaError("Timestamp", "expected an ISO 8601 time") from None
    if stamped.tzinfo is None:
        raise SchemaError("Timestamp", "expected a time with its offset (SNS sends Z)")
    if stamped < now - MAX_AGE:
        raise SnsRejected(f"message Timestamp {envelope.timestamp[:40]} is older than {MAX_AGE}")
    if stamped > now + MAX_SKEW:
        raise SnsRejected(f"message Timestamp {envelope.timestamp[:40]} is in the future")


def verify_signature(envelope: SnsEnvelope, cert_pem: bytes, *, now: datetime) -> None:
    """Verify the envelope's RSA signature (v1 SHA1, v2 SHA256) with the signing certificate."""
    algorithm = _HASHES.get(envelope.signature_version)
    if algorithm is None:
        raise SnsRejected(f"unsupported SignatureVersion {envelope.signature_version[:10]!r}")
    public_key = _certificate_key(cert_pem, now)
    try:
        signature = base64.b64decode(envelope.signature, validate=True)
        public_key.verify(signature, string_to_sign(envelope), padding.PKCS1v15(), algorithm())
    except (binascii.Error, InvalidSignature):
        raise SnsRejected("signature does not match the message") from None


def _certificate_key(cert_pem: bytes, now: datetime) -> rsa.RSAPublicKey:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise SnsRejected("signing certificate is not a PEM certificate") from None
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SnsRejected("signing certificate is not valid now")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsRejected("signing certificate does not hold an RSA key")
    return public_key
