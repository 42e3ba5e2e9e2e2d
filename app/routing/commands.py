"""The `check`, `route` and `coverage` commands: plain functions app/cli.py calls.

Each returns the exit code. Results go to stdout; warnings go to stderr so that `route --json`
prints nothing but JSON on stdout.
"""

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from app.clock import SystemClock
from app.routing.coverage import coverage
from app.routing.decision import route
from app.routing.issues import RuleIssue, RulesError
from app.routing.loader import load_rules
from app.routing.matcher import RoutableAlert
from app.routing.moment import Moment, parse_moment
from app.routing.report import format_coverage, format_decision
from app.routing.rules import Rules
from app.routing.timespec import zone


def check_command(rules_dir: Path) -> int:
    """Validate a rules directory: 0 with a summary, 1 with every `file:line` error."""
    rules = _load(rules_dir, sys.stdout)
    if rules is None:
        return 1
    skills = {skill for e in rules.engineers.values() for skill in e.skills}
    print(
        f"ok: {len(rules.engineers)} engineers, {len(rules.systems)} systems, "
        f"{len(skills)} skills, {len(rules.maintenance)} maintenance entries, "
        f"{_plural(len(rules.warnings), 'warning')} (version {rules.version[:12]})"
    )
    return 0


def route_command(
    rules_dir: Path,
    payload: bytes,
    source: str,
    at: datetime | str | None,
    as_json: bool,
    parse: Callable[[bytes], Sequence[RoutableAlert]],
    *,
    label: str = "payload",
    now: datetime | None = None,
) -> int:
    """Dry-run: route each alert of a `source` payload at `at` (an instant, or text in one of
    moment.FORMS; naive times are the lead's time zone), as a table or as JSON. 2: bad --at."""
    rules = _load(rules_dir, sys.stderr, warn=False)
    if rules is None:
        return 1
    now = now or SystemClock().now()
    lead = rules.engineers.get(rules.lead)
    tz = lead.tz if lead is not None else zone("UTC")
    try:
        moment = parse_moment(at, now, tz) if isinstance(at, str) else Moment(at or now)
    except ValueError as exc:
        print(f"--at: {exc}", file=sys.stderr)
        return 2
    at = moment.at
    try:
        alerts = parse(payload)
    except ValueError as exc:  # the parsers' ParseError and SchemaError
        print(f"{label}: cannot parse the {source} payload: {exc}", file=sys.stderr)
        return 1
    if moment.assumed_zone:
        local = at.astimezone(tz)
        note = (
            f"at {local:%a %Y-%m-%d %H:%M} {moment.assumed_zone} "
            f"({at:%H:%M} UTC; no offset given: the lead's time zone)"
        )
        print(note, file=sys.stderr if as_json else sys.stdout)
    decisions = [route(rules, alert, at) for alert in alerts]
    if as_json:
        data = [decision.to_json() for decision in decisions]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False))
        _warnings_hint(rules)
        return 0
    if not decisions:
        print(f"no alerts in the {source} payload")
    for number, (alert, decision) in enumerate(zip(alerts, decisions, strict=True), start=1):
        print(format_decision(number, alert, decision), end="\n\n")
    _warnings_hint(rules)
    return 0


def coverage_command(rules_dir: Path, days: int, now: datetime) -> int:
    """Print who is reachable per system over the next `days` days."""
    rules = _load(rules_dir, sys.stdout, warn=False)
    if rules is None:
        return 1
    print(format_coverage(coverage(rules, now, days)))
    _warnings_hint(rules)
    return 0


def _load(rules_dir: Path, errors_to: TextIO, *, warn: bool = True) -> Rules | None:
    """Load the rules; print errors to `errors_to` and (with `warn`) warnings to stderr."""
    try:
        rules = load_rules(rules_dir)
    except RulesError as exc:
        _print_issues(exc.issues, errors_to)
        print(f"{_plural(len(exc.issues), 'error')} in {rules_dir}", file=errors_to)
        return None
    except OSError as exc:
        print(f"{rules_dir}: {exc}", file=errors_to)
        return None
    if warn:
        _print_issues(rules.warnings, sys.stderr, prefix="warning: ")
    return rules


def _warnings_hint(rules: Rules) -> None:
    """After a dry run's output: the map's warnings are `check`'s to list, here only counted
    (listed before an error, they would bury it)."""
    if rules.warnings:
        count = _plural(len(rules.warnings), "warning")
        print(f"(the skills map has {count}: `skillpager check` lists them)", file=sys.stderr)


def _print_issues(issues: Sequence[RuleIssue], out: TextIO, prefix: str = "") -> None:
    for issue in issues:
        print(f"{issue.file}:{issue.line}: {prefix}{issue.message}", file=out)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
