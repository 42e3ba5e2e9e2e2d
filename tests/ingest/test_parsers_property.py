"""Property tests: no body makes a parser fail with anything but ParseError or SchemaError.

Bodies are random bytes, random JSON, deep nesting, huge values and real fixtures with one field
replaced by a value of the wrong type (or removed). Parsed results must still be well-formed.
"""

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.alert import ParsedAlert
from app.ingest import azure, cloudwatch, datadog, gcp, grafana, pagerduty, sns
from tests.ingest.fixture_cases import cases
from tests.ingest.properties import json_values, parse_or_refuse

Parser = Callable[[bytes], object]
ALERT_PARSERS: dict[str, Callable[[bytes], list[ParsedAlert]]] = {
    "grafana": grafana.parse,
    "cloudwatch": cloudwatch.parse,
    "azure": azure.parse,
    "gcp": gcp.parse,
    "datadog": datadog.parse,
    "pagerduty": pagerduty.parse,
}
ALL_PARSERS: dict[str, Parser] = {
    **ALERT_PARSERS,
    "sns_envelope": sns.parse_envelope,
    "pagerduty_routing_key": pagerduty.routing_key_of,
}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(ALL_PARSERS))
@SETTINGS
@given(body=st.binary(max_size=2000))
def test_random_bytes(name: str, body: bytes) -> None:
    parse_or_refuse(ALL_PARSERS[name], body)


@pytest.mark.parametrize("name", sorted(ALL_PARSERS))
@SETTINGS
@given(value=json_values)
def test_random_json(name: str, value: object) -> None:
    parse_or_refuse(ALL_PARSERS[name], json.dumps(value).encode())


@pytest.mark.parametrize("name", sorted(ALL_PARSERS))
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"alerts":[' + b"[" * 50_000,
        b'{"incident":{"started_at":' + b"9" * 5000 + b"}}",
        b'{"Message":"' + b"x" * 1_000_000 + b'"}',
        b"\xff\xfe{}",
        b'"\\ud800"',
        b"NaN",
    ],
    ids=["deep_list", "deep_object", "unclosed", "huge_int", "huge_string", "bom", "lone", "nan"],
)
def test_pathological_bodies(name: str, body: bytes) -> None:
    parse_or_refuse(ALL_PARSERS[name], body)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(document: Any, path: tuple[str | int, ...], new: object, delete: bool) -> None:
    # `document` is decoded JSON and `path` one of its `_paths`: each step indexes a dict or list.
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new


@st.composite
def mutated_fixture(draw: st.DrawFn, source: str) -> bytes:
    """A real fixture body with one field replaced by a random value, or removed."""
    body_file = draw(st.sampled_from(cases(source, rejects=False)))
    document = json.loads(body_file.read_bytes())
    # CloudWatch's alarm is a JSON string inside the envelope: mutate inside it too.
    inner = document.get("Type") == "Notification" and draw(st.booleans())
    target = json.loads(document["Message"]) if inner else document
    path = draw(st.sampled_from(_paths(target)))
    new = draw(json_values | st.integers(min_value=0, max_value=300_000).map(lambda n: "x" * n))
    _replace(target, path, copy.deepcopy(new), delete=draw(st.booleans()))
    if inner:
        document["Message"] = json.dumps(target)
    return json.dumps(document).encode()


@pytest.mark.parametrize("source", sorted(ALERT_PARSERS))
@SETTINGS
@given(data=st.data())
def test_fixture_with_wrong_types(source: str, data: st.DataObject) -> None:
    parse_or_refuse(ALERT_PARSERS[source], data.draw(mutated_fixture(source)))
