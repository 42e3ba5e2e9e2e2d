"""SNS envelope parsing, canonical strings, URL/topic checks and signature verification.

Signatures come from a throwaway test CA (tests/ingest/sns_keys.py), never a real AWS key.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from app.ingest import cloudwatch
from app.ingest.sns import (
    SnsMessageType,
    SnsRejected,
    check_envelope,
    check_sns_url,
    check_topic,
    parse_envelope,
    string_to_sign,
    verify_signature,
)
from tests.ingest.sns_keys import NOW, Signer, body, canonical, ec_cert_pem, make_signer

TOPIC = "arn:aws:sns:eu-west-1:123456789012:skillpager-alarms"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
ALARM = {
    "AlarmName": "payments-db-cpu",
    "AWSAccountId": "123456789012",
    "NewStateValue": "ALARM",
    "OldStateValue": "OK",
    "StateChangeTime": "2025-03-14T09:25:41.305+0000",
    "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:payments-db-cpu",
    "AlarmDescription": 'line one\nline "two" \u2013 ünïcode',
}


@pytest.fixture(scope="module")
def signer() -> Signer:
    return make_signer()


def notification(
    subject: str | None = 'ALARM: "payments-db-cpu" in EU (Ireland)',
) -> dict[str, str]:
    envelope = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": json.dumps(ALARM, ensure_ascii=False),
        "Timestamp": "2025-03-14T09:25:41.376Z",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&x=y",
    }
    if subject is not None:
        envelope["Subject"] = subject
    return envelope


def confirmation(message_type: str = "SubscriptionConfirmation") -> dict[str, str]:
    return {
        "Type": message_type,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e241d08f5a5a5a",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm, visit it.",
        "SubscribeURL": (
            "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={TOPIC}&Token=2336412f37fb687f"
        ),
        "Timestamp": "2025-03-14T09:00:00.000Z",
        "SigningCertURL": CERT_URL,
    }


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "make",
    [
        notification,
        lambda: notification(subject=None),
        confirmation,
        lambda: confirmation("UnsubscribeConfirmation"),
    ],
    ids=["notification", "notification_no_subject", "subscription", "unsubscribe"],
)
def test_signed_message_verifies(
    signer: Signer, version: str, make: Callable[[], dict[str, str]]
) -> None:
    envelope = parse_envelope(body(signer.sign(make(), version)))
    check_envelope(envelope, [TOPIC])
    verify_signature(envelope, signer.cert_pem, now=NOW)


def test_string_to_sign_matches_the_documented_layout() -> None:
    envelope = parse_envelope(body(confirmation() | {"SignatureVersion": "1", "Signature": "AA=="}))
    assert (
        string_to_sign(envelope)
        == (
            "Message\nYou have chosen to subscribe to the topic "
            f"{TOPIC}.\nTo confirm, visit it.\n"
            "MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
            f"SubscribeURL\n{confirmation()['SubscribeURL']}\n"
            "Timestamp\n2025-03-14T09:00:00.000Z\n"
            "Token\n2336412f37fb687f5d51e6e241d08f5a5a5a\n"
            f"TopicArn\n{TOPIC}\n"
            "Type\nSubscriptionConfirmation\n"
        ).encode()
    )


@pytest.mark.parametrize("subject", ['ALARM: "x"', None])
def test_notification_string_to_sign_skips_an_absent_subject(subject: str | None) -> None:
    raw = notification(subject) | {"SignatureVersion": "1", "Signature": "AA=="}
    assert string_to_sign(parse_envelope(body(raw))) == canonical(raw)
    assert (b"Subject\n" in canonical(raw)) is (subject is not None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Message", json.dumps(ALARM | {"NewStateValue": "OK"})),
        ("MessageId", "another-id"),
        ("Subject", "OK: all fine"),
        ("Timestamp", "2025-03-14T09:25:42.000Z"),
        ("TopicArn", "arn:aws:sns:eu-west-1:123456789012:other"),
    ],
)
def test_tampered_notification_is_rejected(signer: Signer, field: str, value: str) -> None:
    envelope = parse_envelope(body(signer.sign(notification(), "2") | {field: value}))
    with pytest.raises(SnsRejected, match="signature does not match"):
        verify_signature(envelope, signer.cert_pem, now=NOW)


def test_tampered_subscribe_url_is_rejected(signer: Signer) -> None:
    signed = signer.sign(confirmation(), "1")
    signed["SubscribeURL"] = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&x=1"
    with pytest.raises(SnsRejected, match="signature does not match"):
        verify_signature(parse_envelope(body(signed)), signer.cert_pem, now=NOW)


def test_version_swap_is_rejected(signer: Signer) -> None:
    signed = signer.sign(notification(), "1") | {"SignatureVersion": "2"}
    with pytest.raises(SnsRejected, match="signature does not match"):
        verify_signature(parse_envelope(body(signed)), signer.cert_pem, now=NOW)


def test_signature_by_another_key_is_rejected(signer: Signer) -> None:
    forger = make_signer()
    envelope = parse_envelope(body(forger.sign(notification(), "2")))
    with pytest.raises(SnsRejected, match="signature does not match"):
        verify_signature(envelope, signer.cert_pem, now=NOW)


@pytest.mark.parametrize("signature", ["not base64!", "", "QUJD"])
def test_garbage_signature_is_rejected(signer: Signer, signature: str) -> None:
    raw = notification() | {"SignatureVersion": "1", "Signature": signature or "=="}
    with pytest.raises(SnsRejected, match="signature does not match"):
        verify_signature(parse_envelope(body(raw)), signer.cert_pem, now=NOW)


@pytest.mark.parametrize("version", ["3", "0", "SHA256"])
def test_unknown_signature_version_is_rejected(signer: Signer, version: str) -> None:
    envelope = parse_envelope(
        body(signer.sign(notification(), "2") | {"SignatureVersion": version})
    )
    with pytest.raises(SnsRejected, match="SignatureVersion"):
        check_envelope(envelope, [TOPIC])
    with pytest.raises(SnsRejected, match="SignatureVersion"):
        verify_signature(envelope, signer.cert_pem, now=NOW)


@pytest.mark.parametrize(
    "now",
    [datetime(2024, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC)],
)
def test_certificate_outside_its_validity_is_rejected(signer: Signer, now: datetime) -> None:
    envelope = parse_envelope(body(signer.sign(notification(), "2")))
    with pytest.raises(SnsRejected, match="not valid now"):
        verify_signature(envelope, signer.cert_pem, now=now)


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM"),
        (b"<html>Not Found</html>", "not a PEM"),
    ],
)
def test_unusable_certificate_is_rejected(signer: Signer, pem: bytes, reason: str) -> None:
    envelope = parse_envelope(body(signer.sign(notification(), "1")))
    with pytest.raises(SnsRejected, match=reason):
        verify_signature(envelope, pem, now=NOW)


def test_non_rsa_certificate_is_rejected(signer: Signer) -> None:
    envelope = parse_envelope(body(signer.sign(notification(), "1")))
    with pytest.raises(SnsRejected, match="RSA"):
        verify_signature(envelope, ec_cert_pem(), now=NOW)


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
    ],
)
def test_genuine_cert_url_passes(url: str) -> None:
    check_sns_url(url, what="SigningCertURL", pem=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/cert.pem",
        "https://my-bucket.s3.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-abc.pem",
        "https://sns.x.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem.txt",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com/?cert=x.pem",
        "file:///etc/ssl/cert.pem",
        "https://[::1/cert.pem",
        "",
    ],
)
def test_spoofed_cert_url_is_rejected_before_any_fetch(signer: Signer, url: str) -> None:
    envelope = parse_envelope(body(signer.sign(notification() | {"SigningCertURL": url or "x"})))
    with pytest.raises(SnsRejected, match="SigningCertURL"):
        check_envelope(envelope, [TOPIC])


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/?Action=ConfirmSubscription",
        "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription",
    ],
)
def test_spoofed_subscribe_url_is_rejected(url: str) -> None:
    raw = confirmation() | {"SubscribeURL": url, "SignatureVersion": "1", "Signature": "AA=="}
    with pytest.raises(SnsRejected, match="SubscribeURL"):
        check_envelope(parse_envelope(body(raw)), [TOPIC])


@pytest.mark.parametrize("allowed", [[], ["arn:aws:sns:eu-west-1:123456789012:other"]])
def test_topic_off_the_allow_list_is_rejected(allowed: list[str]) -> None:
    with pytest.raises(SnsRejected, match="not allowed"):
        check_topic(TOPIC, allowed)


def test_verified_notification_flows_into_the_cloudwatch_parser(signer: Signer) -> None:
    raw = body(signer.sign(notification(), "2"))
    envelope = parse_envelope(raw)
    check_envelope(envelope, {TOPIC})
    verify_signature(envelope, signer.cert_pem, now=NOW)
    (alert,) = cloudwatch.parse(raw)
    assert envelope.type is SnsMessageType.NOTIFICATION
    assert alert.dedup_key == f"cloudwatch:{ALARM['AlarmArn']}"
    assert (alert.status, alert.severity) == ("firing", "critical")
