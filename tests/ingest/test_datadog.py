"""Datadog webhook parsing (recommended and default templates) against the fixture files."""

from pathlib import Path

import pytest

from app.ingest import datadog
from app.ingest.base import ParseError, SchemaError
from tests.ingest.fixture_cases import FIXTURES, as_json, cases, expected


@pytest.mark.parametrize("body_file", cases("datadog", rejects=False), ids=lambda p: p.stem)
def test_parser_normalises_fixture(body_file: Path) -> None:
    alerts = datadog.parse(body_file.read_bytes())
    assert [as_json(alert) for alert in alerts] == expected(body_file)["alerts"]


@pytest.mark.parametrize("body_file", cases("datadog", rejects=True), ids=lambda p: p.stem)
def test_parser_rejects_fixture(body_file: Path) -> None:
    want = expected(body_file)
    error = ParseError if want["status"] == 400 else SchemaError
    with pytest.raises(error) as caught:
        datadog.parse(body_file.read_bytes())
    assert type(caught.value) is error
    if isinstance(caught.value, SchemaError):
        assert caught.value.field == want["field"]


@pytest.mark.parametrize(
    ("triggered", "recovered"),
    [
        ("triggered", "recovered"),
        ("default_template_triggered", "default_template_recovered"),
    ],
)
def test_trigger_and_recovery_share_the_dedup_key(triggered: str, recovered: str) -> None:
    (first,) = datadog.parse((FIXTURES / "datadog" / f"{triggered}.json").read_bytes())
    (second,) = datadog.parse((FIXTURES / "datadog" / f"{recovered}.json").read_bytes())
    assert first.dedup_key == second.dedup_key
    assert (first.status, second.status) == ("firing", "resolved")
