"""Azure Monitor common-alert-schema parsing against the fixture files."""

from pathlib import Path

import pytest

from app.ingest import azure
from app.ingest.base import ParseError, SchemaError
from tests.ingest.fixture_cases import FIXTURES, as_json, cases, expected


@pytest.mark.parametrize("body_file", cases("azure", rejects=False), ids=lambda p: p.stem)
def test_parser_normalises_fixture(body_file: Path) -> None:
    alerts = azure.parse(body_file.read_bytes())
    assert [as_json(alert) for alert in alerts] == expected(body_file)["alerts"]


@pytest.mark.parametrize("body_file", cases("azure", rejects=True), ids=lambda p: p.stem)
def test_parser_rejects_fixture(body_file: Path) -> None:
    want = expected(body_file)
    error = ParseError if want["status"] == 400 else SchemaError
    with pytest.raises(error) as caught:
        azure.parse(body_file.read_bytes())
    assert type(caught.value) is error
    if isinstance(caught.value, SchemaError):
        assert caught.value.field == want["field"]


def test_fired_and_resolved_share_the_dedup_key_and_severity() -> None:
    (fired,) = azure.parse((FIXTURES / "azure" / "metric_fired.json").read_bytes())
    (resolved,) = azure.parse((FIXTURES / "azure" / "metric_resolved.json").read_bytes())
    assert fired.dedup_key == resolved.dedup_key
    assert (fired.severity, resolved.severity) == ("critical", "critical")


def test_old_schema_error_names_the_expected_schema() -> None:
    body = (FIXTURES / "azure" / "reject_legacy_metric_schema.json").read_bytes()
    with pytest.raises(SchemaError, match="azureMonitorCommonAlertSchema") as caught:
        azure.parse(body)
    assert caught.value.field == "schemaId"
