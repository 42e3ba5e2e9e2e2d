"""Readable text for the CLI: a routing decision as a small table, and the coverage report."""

from datetime import datetime

from app.routing.coverage import Coverage, Gap, SystemCoverage
from app.routing.decision import Action, Decision
from app.routing.matcher import RoutableAlert


def format_decision(number: int, alert: RoutableAlert, decision: Decision) -> str:
    """A decision as indented lines: system, action, steps, and every reason."""
    labels = " ".join(f"{key}={value}" for key, value in sorted(alert.labels.items()))
    system = decision.system or "(unrouted)"
    if decision.customer:
        system += f"  customer {decision.customer}"
    lines = [
        f"#{number} [{alert.source}] {decision.severity} {labels}".rstrip(),
        f"  system   {system}",
        f"  action   {_action(decision)}",
        f"  group    {decision.group}",
    ]
    for step in decision.steps:
        lines.append(f"  +{_duration(step.after_s):<7} {', '.join(step.engineers)}")
    if decision.steps:
        lines.append(
            f"  repeat   {decision.repeat}, then {decision.lead} every "
            f"{_duration(decision.exhausted_every_s)}"
        )
    for reason in decision.reasons:
        mark = "*" if reason.chosen else "-"
        lines.append(f"  {mark} {reason.engineer or '':<8} {reason.text}")
    return "\n".join(lines)


def _action(decision: Decision) -> str:
    if decision.action is Action.DASHBOARD or decision.page_at is None:
        return str(decision.action)
    return f"{decision.action} at {_when(decision.page_at)}"


def _when(moment: datetime) -> str:
    return f"{moment:%a %Y-%m-%d %H:%M} UTC"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_coverage(report: Coverage) -> str:
    """Per-system gaps, bus-factor-1 skills, and the maintenance windows ahead."""
    lines = [f"coverage {_when(report.start_at)} → {_when(report.end_at)}"]
    for system in report.systems:
        lines += _system_lines(system)
    lines.append("bus factor 1:")
    lines += [f"  {skill}: only {who}" for skill, who in report.single_holders.items()] or [
        "  none"
    ]
    lines.append("maintenance:")
    lines += [
        f"  {w.system or 'customer ' + str(w.customer)}: {_when(w.start_at)} → {_when(w.end_at)}"
        for w in report.maintenance
    ] or ["  none"]
    return "\n".join(lines)


def _system_lines(system: SystemCoverage) -> list[str]:
    lines = [f"{system.system}:"]
    if system.always:
        lines.append(
            f"  nobody present ({', '.join(system.always)}: lead only): "
            + _gap_summary(system.nobody_present)
        )
    if system.working_hours:
        lines.append(
            f"  nobody in hours ({', '.join(system.working_hours)} wait): "
            + _gap_summary(system.nobody_in_hours)
        )
    return lines


def _gap_summary(gaps: tuple[Gap, ...]) -> str:
    if not gaps:
        return "none"
    total = sum(gap.hours for gap in gaps)
    ranges = "; ".join(f"{_when(g.start_at)} → {g.end_at:%a %H:%M}" for g in gaps)
    return f"{total:.1f} h: {ranges}"
