"""Alertmanager and generic parsers against the fixture files, purely and over HTTP."""

from pathlib import Path

import pytest

from app.ingest import alertmanager, generic
from app.ingest.base import ParseError, SchemaError
from tests.ingest.fixture_cases import as_json, cases, expected
from tests.support.app import RunningApp

PARSERS = {"alertmanager": alertmanager.parse, "generic": generic.parse}
ACCEPTED = [(s, p) for s in PARSERS for p in cases(s, rejects=False)]
REJECTED = [(s, p) for s in PARSERS for p in cases(s, rejects=True)]


@pytest.mark.parametrize(("source", "body_file"), ACCEPTED, ids=lambda v: getattr(v, "stem", v))
def test_parser_normalises_fixture(source: str, body_file: Path) -> None:
    want = expected(body_file)
    alerts = PARSERS[source](body_file.read_bytes())
    assert [as_json(alert) for alert in alerts] == want["alerts"]


def test_truncated_alerts_are_reported() -> None:
    body = (
        Path(__file__).parent.parent / "fixtures/alertmanager/truncated_group.json"
    ).read_bytes()
    alerts, truncated = alertmanager.parse_batch(body)
    assert (len(alerts), truncated) == (1, 17)


@pytest.mark.parametrize(("source", "body_file"), REJECTED, ids=lambda v: getattr(v, "stem", v))
def test_parser_rejects_fixture(source: str, body_file: Path) -> None:
    want = expected(body_file)
    error = ParseError if want["status"] == 400 else SchemaError
    with pytest.raises(error) as caught:
        PARSERS[source](body_file.read_bytes())
    if isinstance(caught.value, SchemaError):
        assert caught.value.field == want["field"]


@pytest.mark.parametrize(("source", "body_file"), REJECTED, ids=lambda v: getattr(v, "stem", v))
async def test_webhook_answers_rejection_status(
    sqlite_app: RunningApp, source: str, body_file: Path
) -> None:
    want = expected(body_file)
    body = body_file.read_bytes()  # noqa: ASYNC240 - a small fixture file
    response = await sqlite_app.client.post(
        f"/webhooks/{source}", content=body, headers=sqlite_app.webhook_headers()
    )
    assert response.status_code == want["status"]
    answer = response.json()
    if want["status"] == 422:
        assert answer["detail"]["field"] == want["field"]
    else:
        assert answer["error"] == want["error"]
        assert "malformed JSON" in answer["detail"]
