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

from app.routing.coverage import coverage
from app.routing.decision import route
from app.routing.issues import RuleIssue, RulesError
from app.routing.loader import load_rules
from app.routing.matcher import RoutableAlert
from app.routing.report import format_coverage, format_decision
from app.routing.rules import Rules


def check_command(rules_dir: Path) -> int:
    """Validate a rules directory: 0 with a summary, 1 with every `file:line` error."""
    rules = _load(rules_dir, sys.stdout)
    if rules is None:
        return 1
    skills = {skill for e in rules.engineers.values() for skill in e.skills}
    print(
        f"ok: {len(rules.engineers)} engineers, {len(rules.systems)} systems, "
        f"{len(skills)} skills, {len(rules.maintenance)} maintenance entries, "
        f"{len(rules.warnings)} warnings (version {rules.version[:12]})"
    )
    return 0


def route_command(
    rules_dir: Path,
    payload: bytes,
    source: str,
    at: datetime,
    as_json: bool,
    parse: Callable[[bytes], Sequence[RoutableAlert]],
) -> int:
    """Dry-run: route each alert of a `source` payload at `at`, as a table or as JSON."""
    rules = _load(rules_dir, sys.stderr)
    if rules is None:
        return 1
    try:
        alerts = parse(payload)
    except ValueError as exc:  # the parsers' ParseError and SchemaError
        print(f"cannot parse the {source} payload: {exc}", file=sys.stderr)
        return 1
    decisions = [route(rules, alert, at) for alert in alerts]
    if as_json:
        data = [decision.to_json() for decision in decisions]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False))
        return 0
    if not decisions:
        print(f"no alerts in the {source} payload")
    for number, (alert, decision) in enumerate(zip(alerts, decisions, strict=True), start=1):
        print(format_decision(number, alert, decision), end="\n\n")
    return 0


def coverage_command(rules_dir: Path, days: int, now: datetime) -> int:
    """Print who is reachable per system over the next `days` days."""
    rules = _load(rules_dir, sys.stdout)
    if rules is None:
        return 1
    print(format_coverage(coverage(rules, now, days)))
    return 0


def _load(rules_dir: Path, errors_to: TextIO) -> Rules | None:
    """Load the rules; print errors to `errors_to` and warnings to stderr."""
    try:
        rules = load_rules(rules_dir)
    except RulesError as exc:
        _print_issues(exc.issues, errors_to)
        print(f"{len(exc.issues)} errors in {rules_dir}", file=errors_to)
        return None
    except OSError as exc:
        print(f"{rules_dir}: {exc}", file=errors_to)
        return None
    _print_issues(rules.warnings, sys.stderr, prefix="warning: ")
    return rules


def _print_issues(issues: Sequence[RuleIssue], out: TextIO, prefix: str = "") -> None:
    for issue in issues:
        print(f"{issue.file}:{issue.line}: {prefix}{issue.message}", file=out)
