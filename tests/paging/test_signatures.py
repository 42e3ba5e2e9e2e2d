"""Twilio and Slack callback verification, including the published test vectors."""

from datetime import UTC, datetime

import pytest

from app.paging.signatures import (
    InvalidSignature,
    StaleTimestamp,
    slack_signature,
    twilio_signature,
    twilio_url,
    verify_slack,
    verify_twilio,
)

TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
TWILIO_VECTOR = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_VECTOR = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SLACK_NOW = datetime.fromtimestamp(int(SLACK_TS) + 60, UTC)


def test_twilio_signature_matches_the_published_vector() -> None:
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_VECTOR


def test_twilio_valid_signature_passes() -> None:
    verify_twilio(
        auth_token=TWILIO_TOKEN, url=TWILIO_URL, params=TWILIO_PARAMS, signature=TWILIO_VECTOR
    )


def test_twilio_signature_checks_every_field() -> None:
    forged = {**TWILIO_PARAMS, "Digits": "9999"}

    with pytest.raises(InvalidSignature):
        verify_twilio(
            auth_token=TWILIO_TOKEN, url=TWILIO_URL, params=forged, signature=TWILIO_VECTOR
        )


def test_twilio_signature_covers_the_url_and_token() -> None:
    with pytest.raises(InvalidSignature):
        verify_twilio(
            auth_token=TWILIO_TOKEN,
            url="https://mycompany.com/myapp.php?foo=1&bar=3",
            params=TWILIO_PARAMS,
            signature=TWILIO_VECTOR,
        )
    with pytest.raises(InvalidSignature):
        verify_twilio(
            auth_token="54321", url=TWILIO_URL, params=TWILIO_PARAMS, signature=TWILIO_VECTOR
        )


def test_twilio_missing_signature_is_invalid() -> None:
    with pytest.raises(InvalidSignature, match="missing"):
        verify_twilio(auth_token=TWILIO_TOKEN, url=TWILIO_URL, params={}, signature=None)


def test_twilio_repeated_fields_are_all_signed() -> None:
    url = twilio_url("https://pager.example.com/", "/twilio/sms", "x=1")
    pairs = [("Body", "12a"), ("MediaUrl", "b"), ("MediaUrl", "a")]
    signature = twilio_signature("tok", url, pairs)

    assert url == "https://pager.example.com/twilio/sms?x=1"
    verify_twilio(auth_token="tok", url=url, params=pairs, signature=signature)
    with pytest.raises(InvalidSignature):
        verify_twilio(auth_token="tok", url=url, params=pairs[:2], signature=signature)


def test_twilio_url_without_query_has_no_question_mark() -> None:
    assert twilio_url("https://pager.example.com", "/twilio/status") == (
        "https://pager.example.com/twilio/status"
    )


def test_slack_signature_matches_the_published_vector() -> None:
    assert slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY) == SLACK_VECTOR


def test_slack_valid_signature_passes_within_the_window() -> None:
    verify_slack(
        signing_secret=SLACK_SECRET,
        timestamp=SLACK_TS,
        signature=SLACK_VECTOR,
        body=SLACK_BODY,
        now=SLACK_NOW,
    )


def test_slack_forged_body_is_invalid() -> None:
    with pytest.raises(InvalidSignature):
        verify_slack(
            signing_secret=SLACK_SECRET,
            timestamp=SLACK_TS,
            signature=SLACK_VECTOR,
            body=SLACK_BODY + b"&text=rm",
            now=SLACK_NOW,
        )


def test_slack_signature_by_another_secret_is_invalid() -> None:
    forged = slack_signature("not-the-secret", SLACK_TS, SLACK_BODY)

    with pytest.raises(InvalidSignature):
        verify_slack(
            signing_secret=SLACK_SECRET,
            timestamp=SLACK_TS,
            signature=forged,
            body=SLACK_BODY,
            now=SLACK_NOW,
        )


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_slack_stale_timestamp_is_rejected_even_when_signed(offset: int) -> None:
    now = datetime.fromtimestamp(int(SLACK_TS) + offset, UTC)

    with pytest.raises(StaleTimestamp):
        verify_slack(
            signing_secret=SLACK_SECRET,
            timestamp=SLACK_TS,
            signature=SLACK_VECTOR,
            body=SLACK_BODY,
            now=now,
        )


def test_slack_window_edge_is_accepted() -> None:
    verify_slack(
        signing_secret=SLACK_SECRET,
        timestamp=SLACK_TS,
        signature=SLACK_VECTOR,
        body=SLACK_BODY,
        now=datetime.fromtimestamp(int(SLACK_TS) + 300, UTC),
    )


@pytest.mark.parametrize(
    ("timestamp", "signature"), [(None, SLACK_VECTOR), (SLACK_TS, None), ("soon", SLACK_VECTOR)]
)
def test_slack_missing_or_malformed_headers_are_invalid(
    timestamp: str | None, signature: str | None
) -> None:
    with pytest.raises(InvalidSignature):
        verify_slack(
            signing_secret=SLACK_SECRET,
            timestamp=timestamp,
            signature=signature,
            body=SLACK_BODY,
            now=SLACK_NOW,
        )
