"""Property tests for the pydantic-backed parsers (Alertmanager, generic JSON).

No body may make them fail with anything but ParseError or SchemaError (anything else is a 500
at the webhook): random bytes, random JSON, bodies of the right shape with wrong-typed or huge
values, deep nesting and timestamps at the edges of the calendar. What they do parse must be
well-formed, and a timestamp must keep its instant whatever offset it was written with.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.core.alert import ParsedAlert
from app.ingest import alertmanager, generic
from tests.ingest.properties import json_values, parse_or_refuse

FIXTURES = Path(__file__).parent.parent / "fixtures"
PARSERS: dict[str, Callable[[bytes], list[ParsedAlert]]] = {
    "alertmanager": alertmanager.parse,
    "generic": generic.parse,
}
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values of every JSON type, including ones that are huge or numerically odd.
huge_text = st.integers(min_value=0, max_value=200_000).map(lambda n: "é" * n)
odd_numbers = st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 1e308, -1e308, 0.5])
wrong_values = json_values | huge_text | odd_numbers
label_maps = st.dictionaries(st.text(max_size=12), wrong_values, max_size=4) | wrong_values

# Timestamps as senders write them, and as nobody should: edges of the calendar, odd offsets.
EDGE_TIMESTAMPS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:30:00+01:00",
    "0001-01-01T00:00:00.5-00:01",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999999-01:00",
    "2025-03-14T09:25:41.305+0000",
    "2025-03-14T09:25:41+99:00",
    "2025-02-30T00:00:00Z",
    "1741944341000",
    "99999999999999999999",
    "1e400",
    "",
    "Z",
    ".",
    "2025-03-14T09:25:41.²Z",
]
timestamps = (
    st.sampled_from(EDGE_TIMESTAMPS)
    | st.text(alphabet="0123456789-+:.TZz ", max_size=40)
    | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    | st.floats()
    | st.integers()
    | json_values
)


def _run(parse: Callable[[bytes], list[ParsedAlert]], body: bytes) -> list[ParsedAlert]:
    alerts = parse_or_refuse(parse, body)
    for alert in alerts:
        # Stricter than the other parsers: always a summary, never a legacy dedup key.
        assert alert.summary
        assert alert.dedup_key.startswith(f"{alert.source}:")
    return alerts


@st.composite
def alertmanager_bodies(draw: st.DrawFn) -> object:
    """Alertmanager's shape, each field either plausible or of a wrong type."""

    def field(plausible: st.SearchStrategy[object]) -> object:
        return draw(plausible | wrong_values)

    alert = {
        "status": field(st.sampled_from(["firing", "resolved", "FIRING", ""])),
        "labels": field(st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=4)),
        "annotations": draw(label_maps),
        "startsAt": field(timestamps),
        "endsAt": field(timestamps),
        "generatorURL": field(st.sampled_from(["", "javascript:alert(1)", "https://x.example/"])),
        "fingerprint": field(st.text(max_size=20)),
    }
    alert = {k: v for k, v in alert.items() if draw(st.booleans()) or k == "status"}
    return {
        "version": "4",
        "status": field(st.sampled_from(["firing", "resolved"])),
        "alerts": draw(st.lists(st.just(alert), max_size=3) | wrong_values),
        "truncatedAlerts": field(st.integers()),
        "externalURL": field(st.text(max_size=20)),
    }


@st.composite
def generic_bodies(draw: st.DrawFn) -> object:
    """The generic shape (one object or a list), each field plausible or of a wrong type."""

    def field(plausible: st.SearchStrategy[object]) -> object:
        return draw(plausible | wrong_values)

    alert = {
        "summary": field(st.text(min_size=1, max_size=20)),
        "severity": field(st.sampled_from(["crit", "P1", "sev2", "unknown", ""])),
        "status": field(st.sampled_from(["firing", "resolved", "acknowledged", "open"])),
        "dedup_key": field(st.text(max_size=20)),
        "labels": draw(label_maps),
        "source_url": field(st.sampled_from(["", "ftp://x", "HTTPS://x.example/"])),
        "runbook_url": field(st.sampled_from(["", "javascript:x", "http://r.example/"])),
        "started_at": field(timestamps),
    }
    alert = {k: v for k, v in alert.items() if draw(st.booleans()) or k == "summary"}
    return draw(st.just(alert) | st.lists(st.just(alert), max_size=3))


SHAPED = {"alertmanager": alertmanager_bodies(), "generic": generic_bodies()}


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(body=st.binary(max_size=2000))
def test_random_bytes(name: str, body: bytes) -> None:
    _run(PARSERS[name], body)


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(value=json_values)
def test_random_json(name: str, value: object) -> None:
    _run(PARSERS[name], json.dumps(value).encode())


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=st.data())
def test_right_shape_with_wrong_types(name: str, data: st.DataObject) -> None:
    _run(PARSERS[name], json.dumps(data.draw(SHAPED[name])).encode())


@SETTINGS
@given(value=timestamps)
@example(value="0001-01-01T00:30:00+01:00")
@example(value="9999-12-31T23:59:59-23:59")
def test_any_alertmanager_timestamp(value: object) -> None:
    alert = {"status": "resolved", "labels": {"alertname": "x"}, "startsAt": value}
    _run(alertmanager.parse, json.dumps({"alerts": [alert | {"endsAt": value}]}).encode())


@SETTINGS
@given(value=timestamps)
@example(value="0001-01-01T00:30:00+01:00")
@example(value="9999-12-31T23:59:59-23:59")
def test_any_generic_timestamp(value: object) -> None:
    _run(generic.parse, json.dumps({"summary": "x", "started_at": value}).encode())


# hypothesis takes naive bounds and attaches the drawn zone itself.
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC).replace(tzinfo=None)
LATEST = datetime(9000, 1, 1, tzinfo=UTC).replace(tzinfo=None)
# Whole-minute offsets as senders use them (Grafana sends the server's local offset).
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@SETTINGS
@given(moment=st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=offsets))
@example(moment=datetime(2025, 3, 14, 10, 25, 41, 305000, tzinfo=timezone(timedelta(hours=1))))
def test_timestamp_keeps_its_instant_whatever_the_offset(moment: datetime) -> None:
    written = moment.isoformat()
    alert = {"status": "resolved", "labels": {}, "startsAt": written, "endsAt": written}
    [parsed] = alertmanager.parse(json.dumps({"alerts": [alert]}).encode())
    assert parsed.started_at == moment, written
    assert parsed.ended_at == moment, written
    [generic_alert] = generic.parse(json.dumps({"summary": "x", "started_at": written}).encode())
    assert generic_alert.started_at == moment, written


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"alerts":[' + b"[" * 50_000,
        b'{"alerts":[{"labels":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}]}",
        b'{"summary":"x","labels":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"summary":"x","started_at":' + b"9" * 5000 + b"}",
        b'{"alerts":[{"startsAt":"' + b"9" * 5000 + b'"}]}',
        b'{"summary":"' + b"x" * 2_000_000 + b'"}',
        b'{"alerts":[{"labels":{"a":"' + b"x" * 2_000_000 + b'"}}]}',
        b'{"alerts":[' + b'{"labels":{}},' * 20_000 + b"{}]}",
        b"[" + b'{"summary":"x"},' * 20_000 + b'{"summary":"x"}]',
        b'{"summary":"x","started_at":NaN}',
        b'{"summary":"x","started_at":-Infinity}',
        b'{"alerts":[],"truncatedAlerts":1e400}',
        b"\xef\xbb\xbf{}",
        b"\xff\xfe{}",
        b'"\\ud800"',
        b'{"summary":"\\ud800"}',
        b"NaN",
        b"",
    ],
    ids=[
        "deep_list",
        "deep_object",
        "unclosed",
        "deep_labels",
        "deep_generic_labels",
        "huge_int",
        "huge_digit_string",
        "huge_summary",
        "huge_label",
        "many_alerts",
        "many_generic",
        "nan",
        "neg_infinity",
        "huge_float",
        "utf8_bom",
        "utf16_bom",
        "lone",
        "lone_in_field",
        "bare_nan",
        "empty",
    ],
)
def test_pathological_bodies(name: str, body: bytes) -> None:
    _run(PARSERS[name], body)


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=st.data())
def test_fixture_with_one_field_replaced(name: str, data: st.DataObject) -> None:
    """A real accepted fixture with one top-level or per-alert field swapped for junk."""
    files = sorted(
        p
        for p in (FIXTURES / name).glob("*.json")
        if ".expected" not in p.name and not p.name.startswith("reject_")
    )
    document = json.loads(data.draw(st.sampled_from(files)).read_bytes())
    alerts = document if isinstance(document, list) else document.get("alerts", [document])
    target = data.draw(st.sampled_from([document, *alerts])) if alerts else document
    if isinstance(target, dict) and target:
        key = data.draw(st.sampled_from(sorted(target)))
        if data.draw(st.booleans()):
            del target[key]
        else:
            # Timestamps have their own tests above; junk of every type here.
            target[key] = data.draw(wrong_values)
    _run(PARSERS[name], json.dumps(document).encode())
