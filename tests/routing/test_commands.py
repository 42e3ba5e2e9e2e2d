"""The check, route and coverage commands: exit codes and what goes to stdout / stderr."""

import json
from pathlib import Path

import pytest

from app.core.alert import ParsedAlert
from app.ingest.base import SchemaError, load_json
from app.routing.commands import check_command, coverage_command, route_command
from tests.routing.support import alert, utc, write_rules
from tests.support.server import EXAMPLE_RULES

EXAMPLE = EXAMPLE_RULES


def parse(body: bytes) -> list[ParsedAlert]:
    """A tiny test source: a JSON list of {labels, severity}."""
    data = load_json(body)
    if not isinstance(data, list):
        raise SchemaError("$", "expected a list")
    return [alert(item["labels"], item.get("severity", "critical")) for item in data]


def test_check_ok_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0, the counts on stdout, warnings on stderr."""
    assert check_command(EXAMPLE) == 0
    out, err = capsys.readouterr()
    assert out.startswith(
        "ok: 7 engineers, 10 systems, 10 skills, 3 maintenance entries, 1 warning ("
    )
    assert err == (
        f"{EXAMPLE}/team.yaml:64: warning: only gus has redis at level ≥ 3 (bus factor 1)\n"
    )


def test_check_errors_exit_1_with_file_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 and every `file:line: message`."""
    write_rules(tmp_path, team="lead: zed\nengineers:\n  bo: {phone: '123'}\n")
    assert check_command(tmp_path) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        f"{tmp_path}/team.yaml:1: lead 'zed' is not in engineers",
        f"{tmp_path}/team.yaml:3: engineers.bo.phone: phone must be E.164 like +46701112233, "
        "got '123'",
        f"2 errors in {tmp_path}",
    ]


def test_route_json_single_alert_is_an_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--json: exactly the decision JSON on stdout; warnings only on stderr."""
    payload = json.dumps([{"labels": {"service": "payments-db"}}]).encode()
    code = route_command(EXAMPLE, payload, "test", utc("2026-12-22 01:14"), True, parse)
    out, err = capsys.readouterr()
    assert code == 0
    data = json.loads(out)
    assert data["system"] == "payments-db"
    assert data["steps"] == [
        {"after_s": 0, "engineers": ["bo"]},
        {"after_s": 120, "engineers": ["dana"]},
        {"after_s": 240, "engineers": ["anna"]},
    ]
    assert data["page_at"] == "2026-12-22T01:14:00Z"
    assert "warning:" in err


def test_route_json_several_alerts_is_a_list_in_payload_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Several alerts: a JSON list, in payload order."""
    payload = json.dumps(
        [
            {"labels": {"alertname": "Nope"}, "severity": "info"},
            {"labels": {"service": "tps-api"}},
        ]
    ).encode()
    assert route_command(EXAMPLE, payload, "test", utc("2026-03-03 15:00"), True, parse) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["system"], d["action"], d["unrouted"]) for d in data] == [
        (None, "dashboard", True),
        ("initech-api", "page", False),
    ]


def test_route_table_and_bad_payload(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json a readable table; a payload the parser rejects exits 1."""
    payload = json.dumps([{"labels": {"service": "payments-db"}}]).encode()
    assert route_command(EXAMPLE, payload, "test", utc("2026-12-22 01:14"), False, parse) == 0
    out = capsys.readouterr().out
    assert "  system   payments-db  customer acme" in out
    assert "  +0s      bo" in out
    assert "  +2m      dana" in out
    assert "  * bo       named expert for payments-db" in out
    assert route_command(EXAMPLE, b"{}", "test", utc("2026-12-22 01:14"), False, parse) == 1
    assert "cannot parse the test payload" in capsys.readouterr().err


def test_coverage_command(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints per-system gaps, bus factor and maintenance."""
    assert coverage_command(EXAMPLE, 7, utc("2026-03-26 12:00")) == 0
    out = capsys.readouterr().out
    assert "payments-db:\n  nobody present (critical: lead only): none" in out
    assert "  redis: only gus" in out
    assert "  payments-db: Sun 2026-03-29 01:00 UTC → Sun 2026-03-29 02:00 UTC" in out
