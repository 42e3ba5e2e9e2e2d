"""Loader: every error reported as file:line, all at once; warnings; defaults."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from app.routing.decision import route
from app.routing.issues import RulesError
from app.routing.loader import load_rules
from app.routing.schema import NotifyMode, Step
from tests.routing.support import CASES, SYSTEMS, TEAM, alert, utc, write_rules
from tests.support.server import EXAMPLE_RULES


def errors(directory: Path) -> list[str]:
    """The issues of a broken rules dir, with the dir stripped from the file names."""
    with pytest.raises(RulesError) as caught:
        load_rules(directory)
    return [str(issue).removeprefix(f"{directory}/") for issue in caught.value.issues]


def test_file_names_are_the_dir_joined_with_the_file(tmp_path: Path) -> None:
    """Issues name `<dir>/<file>` as given."""
    write_rules(tmp_path, team="lead: nobody\nengineers: {}\n")
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    assert [str(i) for i in caught.value.issues] == [
        f"{tmp_path}/team.yaml:1: lead 'nobody' is not in engineers"
    ]


TEAM_ERRORS = {
    "skill level above 5": (
        'lead: lena\nengineers:\n  lena:\n    phone: "+46700000001"\n    skills: {pg: 6}\n',
        ["team.yaml:5: engineers.lena.skills.pg: skill level must be a whole number 1..5, got 6"],
    ),
    "skill level 0": (
        'lead: lena\nengineers:\n  lena:\n    phone: "+46700000001"\n    skills:\n      pg: 0\n',
        ["team.yaml:6: engineers.lena.skills.pg: skill level must be a whole number 1..5, got 0"],
    ),
    "phone not E.164": (
        'lead: lena\nengineers:\n  lena: {phone: "0701234567"}\n',
        [
            "team.yaml:3: engineers.lena.phone: phone must be E.164 like +46701112233, "
            "got '0701234567'"
        ],
    ),
    "phone unquoted": (
        "lead: lena\nengineers:\n  lena:\n    phone: +46701112233\n",
        ['team.yaml:4: engineers.lena.phone: phone must be a quoted string, e.g. "+46701112233"'],
    ),
    "unknown time zone": (
        'lead: lena\nengineers:\n  lena:\n    phone: "+46700000001"\n'
        "    timezone: Europe/Stokholm\n",
        ["team.yaml:5: engineers.lena.timezone: unknown IANA time zone 'Europe/Stokholm'"],
    ),
    "malformed hours in a list": (
        'lead: lena\nengineers:\n  lena:\n    phone: "+46700000001"\n    hours:\n'
        '      - "Mon-Fri 08:00-12:00"\n      - "Mon-Fri 8-17"\n',
        [
            "team.yaml:7: engineers.lena.hours.1: hours must look like 'Mon-Fri 08:00-17:00', "
            "got 'Mon-Fri 8-17'"
        ],
    ),
    "unknown day": (
        'lead: lena\nengineers:\n  lena: {phone: "+46700000001", hours: "Mon-Fry 08:00-17:00"}\n',
        ["team.yaml:3: engineers.lena.hours: unknown day 'fry' (use Mon, Tue, … Sun)"],
    ),
    "away range backwards": (
        'lead: lena\nengineers:\n  lena:\n    phone: "+46700000001"\n'
        '    away: ["2026-12-21..2026-12-01"]\n',
        [
            "team.yaml:5: engineers.lena.away.0: away range '2026-12-21..2026-12-01' ends before "
            "it starts"
        ],
    ),
    "unknown key, with a hint": (
        'lead: lena\nengineers:\n  lena:\n    phnoe: "+46700000001"\n',
        ["team.yaml:4: unknown key engineers.lena.phnoe (did you mean 'phone'?)"],
    ),
    "duplicate engineer": (
        'lead: lena\nengineers:\n  lena: {phone: "+46700000001"}\n'
        '  lena: {phone: "+46700000002"}\n',
        ["team.yaml:4: duplicate key 'lena' (first at line 3)"],
    ),
    "channel without its contact": (
        'lead: lena\nengineers:\n  lena:\n    phone: "+46700000001"\n    channels: [sms, slack]\n',
        ["team.yaml:5: lena: channel slack needs slack"],
    ),
    "voice needs a phone": (
        "lead: lena\nengineers:\n  lena:\n    slack: U0LENA\n    channels:\n      - voice\n",
        ["team.yaml:6: lena: channel voice needs phone"],
    ),
    "missing lead": (
        'engineers:\n  lena: {phone: "+46700000001"}\n',
        ["team.yaml:1: missing required key 'lead'"],
    ),
    "YAML syntax error": (
        'lead: lena\nengineers:\n  lena: {phone: "+46700000001"\n  bo: {}\n',
        [
            "team.yaml:4: YAML syntax: while parsing a flow mapping expected ',' or '}', "
            "but got '<scalar>'"
        ],
    ),
}


@pytest.mark.parametrize(("team", "expected"), TEAM_ERRORS.values(), ids=TEAM_ERRORS.keys())
def test_team_errors(tmp_path: Path, team: str, expected: list[str]) -> None:
    """Each team.yaml mistake names its line."""
    systems = "systems: {}\n"
    assert errors(write_rules(tmp_path, team=team, systems=systems)) == expected


SYSTEMS_ERRORS = {
    "unknown expert": (
        "systems:\n  db:\n    skills: [postgres]\n    experts: [lena, zed]\n",
        ["systems.yaml:4: unknown engineer 'zed'"],
    ),
    "invalid regex": (
        "systems:\n  db:\n    match:\n      - {service: db}\n      - {alertname: 'Pg(.*'}\n",
        [
            "systems.yaml:5: systems.db.match.1.alertname: invalid regex 'Pg(.*': missing ), "
            "unterminated subpattern at position 2"
        ],
    ),
    "duplicate system": (
        "systems:\n  db: {skills: [postgres]}\n  web: {}\n  db: {}\n",
        ["systems.yaml:4: duplicate key 'db' (first at line 2)"],
    ),
    "duplicate expert": (
        "systems:\n  db:\n    experts:\n      - bo\n      - bo\n",
        ["systems.yaml:5: duplicate expert 'bo'"],
    ),
    "depends_on unknown": (
        "systems:\n  db:\n    depends_on: [net, dbb]\n  net: {}\n",
        ["systems.yaml:3: depends_on unknown system 'dbb'"],
    ),
    "depends_on cycle": (
        "systems:\n  a: {depends_on: [b]}\n  b: {depends_on: [c]}\n  c:\n    depends_on: [a]\n",
        ["systems.yaml:2: depends_on cycle: a → b → c → a"],
    ),
    "unknown key in a system": (
        "systems:\n  db:\n    skils: [postgres]\n",
        ["systems.yaml:3: unknown key systems.db.skils (did you mean 'skills'?)"],
    ),
    "maintenance end before start": (
        "systems:\n  db: {}\nmaintenance:\n  - {system: db, start: '2026-12-02 02:00',\n"
        "     end: '2026-12-01 22:00', timezone: Europe/Stockholm}\n",
        ["systems.yaml:4: maintenance.0: maintenance needs start and end, with end after start"],
    ),
    "maintenance malformed every": (
        "systems:\n  db: {}\nmaintenance:\n  - system: db\n    every: 'Sunday at 3'\n"
        "    duration: 1h\n",
        [
            "systems.yaml:5: maintenance.0.every: every must look like 'Sun 03:00', "
            "got 'Sunday at 3'"
        ],
    ),
    "maintenance of an unknown system": (
        "systems:\n  db: {}\nmaintenance:\n  - {system: dbx, every: 'Sun 03:00', duration: 1h}\n",
        ["systems.yaml:4: unknown system 'dbx'"],
    ),
    "heartbeat duration": (
        "systems:\n  db:\n    heartbeat: {every: 5 minutes}\n",
        [
            "systems.yaml:3: systems.db.heartbeat.every: duration must look like "
            "30s, 5m, 1h or 1d, got '5 minutes'"
        ],
    ),
}


@pytest.mark.parametrize(
    ("systems", "expected"), SYSTEMS_ERRORS.values(), ids=SYSTEMS_ERRORS.keys()
)
def test_systems_errors(tmp_path: Path, systems: str, expected: list[str]) -> None:
    """Each systems.yaml mistake names its line."""
    team = (
        'lead: lena\nengineers:\n  lena: {phone: "+46700000001"}\n  bo: {phone: "+46700000002"}\n'
    )
    assert errors(write_rules(tmp_path, team=team, systems=systems)) == expected


POLICY_ERRORS = {
    "unknown step": (
        "steps: [first, nxt, lead]\n",
        ["policy.yaml:1: steps.1: Input should be 'first', 'next', 'all' or 'lead'"],
    ),
    "bad duration": (
        "ack_timeout: 5\n",
        ["policy.yaml:1: ack_timeout: duration must look like 30s, 5m, 1h or 1d, got 5"],
    ),
    "zero duration": (
        "exhausted_every: 0s\n",
        ["policy.yaml:1: exhausted_every: duration must be more than 0, got '0s'"],
    ),
    "unknown notify mode": (
        "notify:\n  warning: office-hours\n",
        ["policy.yaml:2: notify.warning: Input should be 'always', 'working-hours' or 'never'"],
    ),
    "unknown key": (
        "group-by: [alertname]\n",
        ["policy.yaml:1: unknown key group-by (did you mean 'group_by'?)"],
    ),
}


@pytest.mark.parametrize(("policy", "expected"), POLICY_ERRORS.values(), ids=POLICY_ERRORS.keys())
def test_policy_errors(tmp_path: Path, policy: str, expected: list[str]) -> None:
    """Each policy.yaml mistake names its line."""
    assert errors(write_rules(tmp_path, policy=policy)) == expected


def test_all_errors_at_once_in_file_order(tmp_path: Path) -> None:
    """One run lists every problem of every file, cross-checks included."""
    team = 'lead: lena\nengineers:\n  lena: {phone: "+46700000001", skills: {pg: 9}}\n'
    systems = (
        "systems:\n  db:\n    experts: [zed]\n    match: [{a: '('}]\n  web:\n    experts: [zed]\n"
    )
    found = errors(write_rules(tmp_path, team=team, systems=systems, policy="repeat: -1\n"))
    assert [line.split(": ")[0] for line in found] == [
        "team.yaml:3",
        "systems.yaml:3",
        "systems.yaml:4",
        "systems.yaml:6",
        "policy.yaml:1",
    ]
    # db's unknown expert is reported although db also has a bad regex.
    assert found[1] == "systems.yaml:3: unknown engineer 'zed'"
    assert found[3] == "systems.yaml:6: unknown engineer 'zed'"


@pytest.mark.parametrize(
    "directory", sorted((CASES / "broken").iterdir()), ids=lambda directory: directory.name
)
def test_every_independent_error_in_one_run(directory: Path) -> None:
    """cases/broken/<name>/expected.txt: every error one run reports, each at its file:line.

    Checks across entries and files (lead, experts, depends_on, heartbeats, maintenance) also
    cover broken entries and files; a YAML syntax error stops only its own file.
    """
    expected = (directory / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert errors(directory) == expected


def test_cross_checks_survive_a_broken_team_file(tmp_path: Path) -> None:
    """Experts are checked against team.yaml's ids even when team.yaml has other errors."""
    team = 'engineers:\n  lena: {phone: "+46700000001"}\n'
    systems = "systems:\n  db:\n    skills: [pg]\n    experts: [bo]\n"
    assert errors(write_rules(tmp_path, team=team, systems=systems)) == [
        "team.yaml:1: missing required key 'lead'",
        "systems.yaml:4: unknown engineer 'bo'",
    ]


def test_missing_team_file(tmp_path: Path) -> None:
    """team.yaml and systems.yaml are required."""
    (tmp_path / "systems.yaml").write_text(SYSTEMS)
    assert errors(tmp_path) == ["team.yaml:1: file not found"]


def test_missing_policy_means_defaults(tmp_path: Path) -> None:
    """No policy.yaml: every default of ARCHITECTURE §3."""
    policy = load_rules(write_rules(tmp_path)).policy
    assert policy.ack_timeout == timedelta(minutes=5)
    assert policy.ack_reminder == timedelta(hours=1)
    assert policy.min_level == 3
    assert policy.steps == (Step.FIRST, Step.NEXT, Step.ALL, Step.LEAD)
    assert policy.repeat == 1
    assert policy.exhausted_every == timedelta(minutes=30)
    assert (policy.notify.critical, policy.notify.warning, policy.notify.info) == (
        NotifyMode.ALWAYS,
        NotifyMode.WORKING_HOURS,
        NotifyMode.NEVER,
    )
    assert policy.group_by == ("alertname", "customer")
    assert policy.storm == 100
    assert (policy.flap.changes, policy.flap.window) == (3, timedelta(minutes=30))


def test_durations_and_overrides(tmp_path: Path) -> None:
    """30s, 5m, 1h, 1d; a system's policy overrides single keys and merges notify."""
    systems = SYSTEMS + "    policy: {ack_timeout: 30s, notify: {warning: always}}\n"
    rules = load_rules(
        write_rules(
            tmp_path,
            systems=systems,
            policy="exhausted_every: 1d\nack_reminder: 1h\nflap: {window: 5m}\n",
        )
    )
    effective = rules.policy_for("db")
    assert effective.ack_timeout == timedelta(seconds=30)
    assert effective.exhausted_every == timedelta(days=1)
    assert effective.notify.warning is NotifyMode.WORKING_HOURS.ALWAYS
    assert effective.notify.info is NotifyMode.NEVER
    assert effective.flap.window == timedelta(minutes=5)
    assert rules.policy_for(None).ack_timeout == timedelta(minutes=5)


def test_warnings(tmp_path: Path) -> None:
    """A system nobody can act on, a skill only one person has: warnings, not errors."""
    systems = SYSTEMS + "  legacy:\n    skills: [cobol]\n"
    rules = load_rules(write_rules(tmp_path, team=TEAM, systems=systems))
    assert [str(w).removeprefix(f"{tmp_path}/") for w in rules.warnings] == [
        "systems.yaml:5: nobody can act on legacy: no expert, nobody at level ≥ 3 in cobol",
    ]
    solo = TEAM.replace("postgres: 3", "postgres: 2")
    rules = load_rules(write_rules(tmp_path, team=solo, systems=SYSTEMS))
    assert [str(w).removeprefix(f"{tmp_path}/") for w in rules.warnings] == [
        "team.yaml:4: only bo has postgres at level ≥ 3 (bus factor 1)"
    ]


SHIPPED_RULES = Path(__file__).parents[2] / "routing_rules"
NEW_ENGINEER = """
  zoe:
    name: Zoe Holm
    phone: "+46709998877"
    timezone: Europe/Stockholm
    hours: "Mon-Fri 08:00-17:00"
    skills: {postgres: 5, payments: 5, redis: 4}
"""


def check_shipped_example(directory: Path) -> None:
    """What routing_rules/README.md promises of its example, whatever people and systems it has.

    It loads without errors and routes the README's worked example (a critical PostgresDown for
    acme at Tue 2026-12-22 01:14 UTC) to payments-db: bo, its named expert, first; anna (the
    lead, away) only at the lead step. Exact counts live in tests/fixtures/rules_example.
    """
    rules = load_rules(directory)
    assert rules.lead == "anna"
    labels = {"alertname": "PostgresDown", "customer": "acme"}
    decision = route(rules, alert(labels), utc("2026-12-22 01:14"))
    assert (decision.system, decision.action.value) == ("payments-db", "page")
    assert decision.steps[0].engineers == ("bo",)
    assert decision.steps[-1].engineers == ("anna",)
    assert decision.ack_timeout_s == 120


def test_shipped_example_routes_its_documented_example() -> None:
    """The routing_rules/ in the repository keeps the README's promises."""
    check_shipped_example(SHIPPED_RULES)


def test_shipped_example_survives_a_lead_adding_an_engineer(tmp_path: Path) -> None:
    """A team lead adds an engineer to routing_rules/: no test of the example breaks."""
    copy = shutil.copytree(SHIPPED_RULES, tmp_path / "routing_rules")
    team = (copy / "team.yaml").read_text()
    (copy / "team.yaml").write_text(
        team.replace("\nengineers:\n", "\nengineers:\n" + NEW_ENGINEER, 1)
    )
    assert "zoe" in load_rules(copy).engineers
    check_shipped_example(copy)


def test_example_fixture_loads() -> None:
    """The frozen copy tests rely on: its exact people, systems and one bus-factor warning."""
    rules = load_rules(EXAMPLE_RULES)
    assert len(rules.engineers) == 7
    assert len(rules.systems) == 10
    assert [w.message for w in rules.warnings] == ["only gus has redis at level ≥ 3 (bus factor 1)"]
