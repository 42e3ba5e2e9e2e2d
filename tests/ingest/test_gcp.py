"""Google Cloud Monitoring (schema 1.2) parsing against the fixture files."""

from pathlib import Path

import pytest

from app.ingest import gcp
from app.ingest.base import ParseError, SchemaError
from tests.ingest.fixture_cases import FIXTURES, as_json, cases, expected


@pytest.mark.parametrize("body_file", cases("gcp", rejects=False), ids=lambda p: p.stem)
def test_parser_normalises_fixture(body_file: Path) -> None:
    alerts = gcp.parse(body_file.read_bytes())
    assert [as_json(alert) for alert in alerts] == expected(body_file)["alerts"]


@pytest.mark.parametrize("body_file", cases("gcp", rejects=True), ids=lambda p: p.stem)
def test_parser_rejects_fixture(body_file: Path) -> None:
    want = expected(body_file)
    error = ParseError if want["status"] == 400 else SchemaError
    with pytest.raises(error) as caught:
        gcp.parse(body_file.read_bytes())
    assert type(caught.value) is error
    if isinstance(caught.value, SchemaError):
        assert caught.value.field == want["field"]


def test_open_and_closed_share_the_dedup_key() -> None:
    (opened,) = gcp.parse((FIXTURES / "gcp" / "metric_open.json").read_bytes())
    (closed,) = gcp.parse((FIXTURES / "gcp" / "metric_closed.json").read_bytes())
    assert opened.dedup_key == closed.dedup_key == "gcp:0.nkq7s2r9d1xa"
    assert (opened.status, closed.status) == ("firing", "resolved")
