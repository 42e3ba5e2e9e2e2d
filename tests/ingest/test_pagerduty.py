"""PagerDuty Events v2 parsing against the fixture files, key generation and routing-key privacy."""

import json
import uuid
from pathlib import Path

import pytest

from app.core.alert import ParsedAlert
from app.ingest import pagerduty
from app.ingest.base import ParseError, SchemaError
from app.ingest.pagerduty import EventAction, parse_event, routing_key_of
from tests.ingest.fixture_cases import FIXTURES, as_json, cases, expected

ROUTING_KEY = "R0UT1NGK3Y0123456789ABCDEFGHIJKL"
GENERATED = "00000000-0000-4000-8000-000000000000"


def _parse_fixed_key(body: bytes) -> list[ParsedAlert]:
    return [parse_event(body, new_key=lambda: GENERATED).alert]


@pytest.mark.parametrize("body_file", cases("pagerduty", rejects=False), ids=lambda p: p.stem)
def test_parser_normalises_fixture(body_file: Path) -> None:
    alerts = _parse_fixed_key(body_file.read_bytes())
    assert [as_json(alert) for alert in alerts] == expected(body_file)["alerts"]


@pytest.mark.parametrize("body_file", cases("pagerduty", rejects=True), ids=lambda p: p.stem)
def test_parser_rejects_fixture(body_file: Path) -> None:
    want = expected(body_file)
    error = ParseError if want["status"] == 400 else SchemaError
    with pytest.raises(error) as caught:
        pagerduty.parse(body_file.read_bytes())
    assert type(caught.value) is error
    if isinstance(caught.value, SchemaError):
        assert caught.value.field == want["field"]


@pytest.mark.parametrize("body_file", cases("pagerduty", rejects=False), ids=lambda p: p.stem)
def test_routing_key_never_reaches_the_alert(body_file: Path) -> None:
    body = body_file.read_bytes()
    assert routing_key_of(body) == ROUTING_KEY
    (alert,) = pagerduty.parse(body)
    assert ROUTING_KEY not in repr(alert)
    assert ROUTING_KEY not in repr(dict(alert.labels))


def test_trigger_without_dedup_key_gets_a_fresh_uuid_it_can_answer_with() -> None:
    body = (FIXTURES / "pagerduty" / "trigger_no_dedup_key.json").read_bytes()
    first, second = parse_event(body), parse_event(body)
    assert first.action is EventAction.TRIGGER
    assert uuid.UUID(first.dedup_key).version == 4
    assert first.alert.dedup_key == f"pagerduty:{first.dedup_key}"
    assert first.dedup_key != second.dedup_key


def test_given_dedup_key_is_answered_unchanged() -> None:
    event = parse_event((FIXTURES / "pagerduty" / "trigger_full.json").read_bytes())
    assert event.dedup_key == "payments-db/replica-lag"
    assert event.alert.dedup_key == "pagerduty:payments-db/replica-lag"


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"routing_key": 5}', b'{"routing_key": ""}', b'{"a": 1}'],
)
def test_routing_key_of_a_body_without_one_is_none(body: bytes) -> None:
    assert routing_key_of(body) is None


def _trigger(custom_details: object) -> bytes:
    payload = {"summary": "s", "source": "host-1", "severity": "info"}
    body = {"routing_key": ROUTING_KEY, "event_action": "trigger", "payload": payload}
    payload["custom_details"] = custom_details  # type: ignore[assignment]  # any JSON, as sent
    return json.dumps(body).encode()


def test_flat_scalar_custom_details_become_labels_and_the_rest_stays_out() -> None:
    details = {
        "service": "payments-db",
        "n": 3,
        "on": True,
        "deep": {"a": 1},
        "list": [1],
        "empty": "",
        "text": "two\nlines",
        "none": None,
    }
    (alert,) = pagerduty.parse(_trigger(details))
    assert dict(alert.labels) == {
        "service": "payments-db",
        "n": "3",
        "on": "true",
        "source": "host-1",
    }


@pytest.mark.parametrize("details", ["free text", [1, 2], 5, None])
def test_custom_details_that_are_no_object_add_no_labels(details: object) -> None:
    (alert,) = pagerduty.parse(_trigger(details))
    assert dict(alert.labels) == {"source": "host-1"}


def test_alertmanager_default_text_gives_the_labels_all_its_alerts_share() -> None:
    (alert,) = pagerduty.parse((FIXTURES / "pagerduty" / "alertmanager_details.json").read_bytes())
    assert "instance" not in alert.labels  # db-1 and db-2: not common to the group
    assert alert.labels["service"] == "payments-db"
    assert not {"firing", "resolved", "num_firing", "num_resolved"} & alert.labels.keys()
