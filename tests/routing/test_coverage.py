"""Coverage gaps, bus factor 1, and maintenance windows (one-off and weekly across DST)."""

from pathlib import Path

from app.routing.coverage import Gap, coverage
from app.routing.loader import load_rules
from app.routing.maintenance import in_maintenance, maintenance_windows
from tests.routing.support import utc, write_rules

TEAM = """\
lead: lena
engineers:
  lena: {phone: "+46700000001", skills: {ops: 1}}
  sven:
    phone: "+46700000002"
    timezone: Europe/Stockholm
    hours: "Mon-Fri 08:00-17:00"
    away: ["2026-03-31"]
    skills: {db: 4}
"""
SYSTEMS = """\
systems:
  db:
    customer: acme
    skills: [db]
    match: [{service: db}]
  web:
    customer: acme
    skills: [db]
    policy: {notify: {warning: always}}
maintenance:
  - {customer: acme, start: "2026-12-01 22:00", end: "2026-12-02 02:00", timezone: Europe/Stockholm}
  - {system: db, every: "Sun 03:00", duration: 1h, timezone: Europe/Stockholm}
"""


def test_gaps_follow_hours_away_and_dst(tmp_path: Path) -> None:
    """Working-hours gaps between sven's days (DST-correct); the away day is a gap for all."""
    rules = load_rules(write_rules(tmp_path, team=TEAM, systems=SYSTEMS))
    report = coverage(rules, utc("2026-03-27 12:00"), days=5)
    db = report.systems[0]
    assert (db.system, db.always, db.working_hours) == ("db", ("critical",), ("warning",))
    # Fri 17:00 CET → Mon 08:00 CEST (clocks change on Sunday); Mon 17:00 → Wed 08:00 (away Tue).
    assert db.nobody_in_hours == (
        Gap(utc("2026-03-27 16:00"), utc("2026-03-30 06:00")),
        Gap(utc("2026-03-30 15:00"), utc("2026-04-01 06:00")),
    )
    # Away all of Tuesday in Stockholm: nobody present at any hour.
    assert db.nobody_present == (Gap(utc("2026-03-30 22:00"), utc("2026-03-31 22:00")),)
    assert db.nobody_in_hours[0].hours == 62.0
    web = report.systems[1]
    assert web.working_hours == ()
    assert web.nobody_in_hours == ()
    assert report.single_holders == {"db": "sven"}


def test_coverage_lists_maintenance_ahead(tmp_path: Path) -> None:
    """The report carries the windows of its period."""
    rules = load_rules(write_rules(tmp_path, team=TEAM, systems=SYSTEMS))
    report = coverage(rules, utc("2026-03-27 12:00"), days=5)
    assert [(w.system, w.start_at) for w in report.maintenance] == [("db", utc("2026-03-29 01:00"))]


def test_weekly_maintenance_across_dst(tmp_path: Path) -> None:
    """'Sun 03:00' Stockholm is 02:00 UTC in winter and 01:00 UTC in summer; 1 h long."""
    rules = load_rules(write_rules(tmp_path, team=TEAM, systems=SYSTEMS))
    windows = maintenance_windows(rules, utc("2026-03-20 00:00"), utc("2026-04-01 00:00"))
    assert [(w.system, w.start_at, w.end_at) for w in windows] == [
        ("db", utc("2026-03-22 02:00"), utc("2026-03-22 03:00")),
        ("db", utc("2026-03-29 01:00"), utc("2026-03-29 02:00")),
    ]
    autumn = maintenance_windows(rules, utc("2026-10-24 00:00"), utc("2026-10-26 00:00"))
    assert [w.start_at for w in autumn] == [utc("2026-10-25 02:00")]


def test_one_off_maintenance_and_in_maintenance(tmp_path: Path) -> None:
    """A customer window covers all its systems, from start (inclusive) to end (exclusive)."""
    rules = load_rules(write_rules(tmp_path, team=TEAM, systems=SYSTEMS))
    windows = maintenance_windows(rules, utc("2026-12-01 00:00"), utc("2026-12-03 00:00"))
    assert [(w.customer, w.start_at, w.end_at) for w in windows] == [
        ("acme", utc("2026-12-01 21:00"), utc("2026-12-02 01:00"))
    ]
    assert in_maintenance(rules, "web", "acme", utc("2026-12-01 21:00"))
    assert in_maintenance(rules, "db", "acme", utc("2026-12-02 00:59"))
    assert not in_maintenance(rules, "db", "acme", utc("2026-12-02 01:00"))
    assert not in_maintenance(rules, "other", "globex", utc("2026-12-01 22:00"))
    # The weekly db window: db only, not web.
    assert in_maintenance(rules, "db", "acme", utc("2026-03-29 01:30"))
    assert not in_maintenance(rules, "web", "acme", utc("2026-03-29 01:30"))
    # A window that began before the asked moment is found too.
    assert in_maintenance(rules, "db", "acme", utc("2026-03-29 01:59"))
