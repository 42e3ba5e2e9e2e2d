"""`route --at`: ISO 8601 with or without an offset (naive = the lead's time zone, said in the
output) and the relative forms a person types; an unknown form lists them (issue 19, point 2)."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.routing.moment import FORMS, parse_moment
from tests.cli.support import Cli

_PAYLOAD = (
    '{"summary": "replica lag", "severity": "critical", "labels": {"service": "payments-db"}}'
)
_LEAD_TZ = ZoneInfo("Europe/Stockholm")  # anna's, in tests/fixtures/rules_basic
_SAID = "no offset given: the lead's time zone"


def _route_json(cli: Cli, at: str) -> tuple[datetime, str]:
    (cli.directory / "payload.json").write_text(_PAYLOAD)
    done = cli.run("route", "--json", "--at", at, "payload.json")
    assert done.code == 0, done.err
    page_at = datetime.fromisoformat(json.loads(done.out)["page_at"])
    return page_at, done.first_err


def test_unknown_form_lists_the_accepted_ones(cli: Cli) -> None:
    (cli.directory / "payload.json").write_text(_PAYLOAD)
    done = cli.run("route", "--at", "tomorrow", "payload.json")
    assert (done.code, done.err) == (2, f"--at: cannot read 'tomorrow' as a time; use {FORMS}\n")


def test_iso_with_offset(cli: Cli) -> None:
    page_at, note = _route_json(cli, "2026-12-01T03:00:00+05:00")
    assert page_at == datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert not note.startswith("at ")  # an instant: no zone assumed, nothing to say


def test_naive_iso_is_the_leads_time_zone_and_says_so(cli: Cli) -> None:
    page_at, note = _route_json(cli, "2026-12-01T03:00")
    assert page_at == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Stockholm is UTC+1 in winter
    assert note == (f"at Tue 2026-12-01 03:00 Europe/Stockholm (02:00 UTC; {_SAID})")
    table = cli.run("route", "--at", "2026-07-01 03:00", "payload.json")
    assert table.out.splitlines()[0] == (
        f"at Wed 2026-07-01 03:00 Europe/Stockholm (01:00 UTC; {_SAID})"
    )


def test_relative_forms(cli: Cli) -> None:
    before = datetime.now(UTC)
    in_8h, _ = _route_json(cli, "+8h")
    assert before + timedelta(hours=8) <= in_8h <= datetime.now(UTC) + timedelta(hours=8)
    tomorrow, note = _route_json(cli, "tomorrow 03:00")
    local = datetime.now(_LEAD_TZ)
    expected = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), _LEAD_TZ)
    assert tomorrow == expected.replace(hour=3)
    assert note.startswith(f"at {expected:%a %Y-%m-%d} 03:00 Europe/Stockholm")
    saturday, _ = _route_json(cli, "Sat 14:00")
    assert saturday.astimezone(_LEAD_TZ).weekday() == 5
    assert saturday.astimezone(_LEAD_TZ).hour == 14
    assert timedelta(0) <= saturday - datetime.now(UTC) <= timedelta(days=7)


_NOW = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)  # Saturday 14:00 in Stockholm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", _NOW),
        ("+30m", _NOW + timedelta(minutes=30)),
        ("+1d2h", _NOW + timedelta(days=1, hours=2)),
        ("-2h", _NOW - timedelta(hours=2)),
        ("today 16:00", datetime(2026, 12, 5, 15, 0, tzinfo=UTC)),
        ("tomorrow 03:00", datetime(2026, 12, 6, 2, 0, tzinfo=UTC)),
        ("sat 14:00", _NOW),  # the moment itself still counts as this Saturday's
        ("sat 13:59", datetime(2026, 12, 12, 12, 59, tzinfo=UTC)),
        ("Monday 09:00", datetime(2026, 12, 7, 8, 0, tzinfo=UTC)),
        ("13:00", datetime(2026, 12, 6, 12, 0, tzinfo=UTC)),  # past today: tomorrow's
        ("2026-12-24", datetime(2026, 12, 23, 23, 0, tzinfo=UTC)),
        ("2026-12-24T10:00Z", datetime(2026, 12, 24, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_moment(text: str, expected: datetime) -> None:
    assert parse_moment(text, _NOW, _LEAD_TZ).at == expected


@pytest.mark.parametrize("text", ["tomorrow", "+8x", "sat 25:00", "someday 10:00", "soon"])
def test_parse_moment_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"as a time|invalid time of day"):
        parse_moment(text, _NOW, _LEAD_TZ)
