"""Grafana webhook parsing (fixtures) and HMAC signature verification."""

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.ingest import grafana
from app.ingest.base import ParseError, SchemaError
from app.ingest.grafana import GrafanaSignatureRejected, verify_grafana_signature
from tests.ingest.fixture_cases import FIXTURES, as_json, cases, expected

SECRET = "grafana-test-secret"
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
BODY = (FIXTURES / "grafana" / "firing_single.json").read_bytes()


@pytest.mark.parametrize("body_file", cases("grafana", rejects=False), ids=lambda p: p.stem)
def test_parser_normalises_fixture(body_file: Path) -> None:
    alerts = grafana.parse(body_file.read_bytes())
    assert [as_json(alert) for alert in alerts] == expected(body_file)["alerts"]


@pytest.mark.parametrize("body_file", cases("grafana", rejects=True), ids=lambda p: p.stem)
def test_parser_rejects_fixture(body_file: Path) -> None:
    want = expected(body_file)
    error = ParseError if want["status"] == 400 else SchemaError
    with pytest.raises(error) as caught:
        grafana.parse(body_file.read_bytes())
    assert type(caught.value) is error
    if isinstance(caught.value, SchemaError):
        assert caught.value.field == want["field"]


def _sign(message: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_signature_over_timestamp_and_body_is_accepted() -> None:
    verify_grafana_signature(SECRET, BODY, _sign(TS.encode() + b":" + BODY), TS, NOW)


def test_signature_over_body_alone_is_accepted_without_timestamp() -> None:
    verify_grafana_signature(SECRET, BODY, _sign(BODY), None, NOW)


def test_timestamp_at_the_edge_of_the_window_is_accepted() -> None:
    ts = str(int(NOW.timestamp()) - 300)
    verify_grafana_signature(SECRET, BODY, _sign(ts.encode() + b":" + BODY), ts, NOW)


@pytest.mark.parametrize(
    ("signature", "timestamp", "reason"),
    [
        (None, None, "missing"),
        ("", TS, "missing"),
        (_sign(BODY + b" "), None, "mismatch"),
        (_sign(BODY, "other-secret"), None, "mismatch"),
        ("sha256=" + _sign(BODY), None, "mismatch"),
        # Signed without the timestamp but sent with one: the prefix must be part of the MAC.
        (_sign(BODY), TS, "mismatch"),
        (_sign(TS.encode() + b":" + BODY), None, "mismatch"),
    ],
)
def test_bad_signature_is_rejected(
    signature: str | None, timestamp: str | None, reason: str
) -> None:
    with pytest.raises(GrafanaSignatureRejected, match=reason):
        verify_grafana_signature(SECRET, BODY, signature, timestamp, NOW)


@pytest.mark.parametrize("offset", [-301, 301, 86400])
def test_stale_or_future_timestamp_is_rejected_even_when_signed(offset: int) -> None:
    ts = str(int(NOW.timestamp()) + offset)
    with pytest.raises(GrafanaSignatureRejected, match="window"):
        verify_grafana_signature(SECRET, BODY, _sign(ts.encode() + b":" + BODY), ts, NOW)


@pytest.mark.parametrize("timestamp", ["", "abc", "-5", "1.5", "١٧٤١٩٤٤٦٠٠", "9" * 40])
def test_malformed_timestamp_is_rejected(timestamp: str) -> None:
    signature = _sign(timestamp.encode() + b":" + BODY)
    with pytest.raises(GrafanaSignatureRejected, match="unix seconds"):
        verify_grafana_signature(SECRET, BODY, signature, timestamp, NOW)


def test_upper_case_hex_is_accepted() -> None:
    verify_grafana_signature(SECRET, BODY, _sign(BODY).upper(), None, NOW)
