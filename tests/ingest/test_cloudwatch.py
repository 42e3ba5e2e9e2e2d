"""CloudWatch alarms inside SNS envelopes (fixtures) and the envelope they arrive in."""

from pathlib import Path

import pytest

from app.ingest import cloudwatch
from app.ingest.base import ParseError, SchemaError
from app.ingest.sns import SnsMessageType, parse_envelope
from tests.ingest.fixture_cases import FIXTURES, as_json, cases, expected


@pytest.mark.parametrize("body_file", cases("cloudwatch", rejects=False), ids=lambda p: p.stem)
def test_parser_normalises_fixture(body_file: Path) -> None:
    alerts = cloudwatch.parse(body_file.read_bytes())
    assert [as_json(alert) for alert in alerts] == expected(body_file)["alerts"]


@pytest.mark.parametrize("body_file", cases("cloudwatch", rejects=True), ids=lambda p: p.stem)
def test_parser_rejects_fixture(body_file: Path) -> None:
    want = expected(body_file)
    error = ParseError if want["status"] == 400 else SchemaError
    with pytest.raises(error) as caught:
        cloudwatch.parse(body_file.read_bytes())
    assert type(caught.value) is error
    if isinstance(caught.value, SchemaError):
        assert caught.value.field == want["field"]


def test_redelivery_keeps_message_id_and_alarm_dedup_key_apart() -> None:
    body = (FIXTURES / "cloudwatch" / "alarm_firing.json").read_bytes()
    envelope = parse_envelope(body)
    (alert,) = cloudwatch.parse(body)
    assert envelope.type is SnsMessageType.NOTIFICATION
    assert envelope.message_id == "b2a1c9f4-6f3e-5d8a-9a8e-4d2f7c1e0a11"
    assert envelope.topic_arn == "arn:aws:sns:eu-west-1:123456789012:skillpager-alarms"
    assert envelope.subject == 'ALARM: "payments-db-cpu" in EU (Ireland)'
    assert alert.dedup_key == (
        "cloudwatch:arn:aws:cloudwatch:eu-west-1:123456789012:alarm:payments-db-cpu"
    )


def test_firing_and_ok_share_the_dedup_key() -> None:
    firing = cloudwatch.parse((FIXTURES / "cloudwatch" / "alarm_firing.json").read_bytes())
    resolved = cloudwatch.parse((FIXTURES / "cloudwatch" / "ok_resolved.json").read_bytes())
    assert firing[0].dedup_key == resolved[0].dedup_key
    assert resolved[0].severity == firing[0].severity


def test_subscription_confirmation_exposes_subscribe_url_and_token() -> None:
    body = (FIXTURES / "cloudwatch" / "subscription_confirmation.json").read_bytes()
    envelope = parse_envelope(body)
    assert envelope.type is SnsMessageType.SUBSCRIPTION_CONFIRMATION
    assert envelope.subscribe_url is not None
    assert envelope.subscribe_url.startswith(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    )
    assert envelope.token is not None
    assert envelope.token.startswith("2336412f37fb687f")
    assert envelope.signature_version == "2"
    assert envelope.subject is None
