"""route(rules, alert, now) → Decision: who to page, when, in which steps, and why.

A pure function: the same rules, alert, time and load give the same decision. The decision is
stored with the incident, so later rule edits do not change an incident in flight.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, with_config

from app.core.alert import Severity, severity_from_word
from app.routing.explain import AWAY, Context, Reason, explain
from app.routing.matcher import RoutableAlert, match_view
from app.routing.ranking import Ranking, ladder, rank
from app.routing.rules import Rules
from app.routing.schema import NotifyMode, Policy
from app.routing.timespec import next_start


class Action(StrEnum):
    """What to do now: page the steps, wait for working hours, or show on the dashboard only."""

    PAGE = "page"
    WAIT = "wait"
    DASHBOARD = "dashboard"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@with_config(ConfigDict(extra="forbid"))
@dataclass(frozen=True, slots=True)
class LadderStep:
    """One non-empty step of the first round: `after_s` seconds after the first page.

    A dataclass like `Reason`: cheap to build, validated by pydantic inside a stored Decision.
    """

    after_s: int
    engineers: tuple[str, ...]


class Decision(_Frozen):
    """The routing decision; `to_json()` is the contract of `route --json` and POST /api/route.

    Beyond the contract keys: `group` (incident group key), `lead`, `ack_timeout_s` and
    `exhausted_every_s` (the effective policy), which escalation needs to run later rounds.
    """

    system: str | None
    customer: str | None
    severity: Severity
    action: Action
    page_at: datetime | None  # page: now; wait: when working hours start; dashboard: None
    unrouted: bool
    steps: tuple[LadderStep, ...]
    repeat: int
    reasons: tuple[Reason, ...]
    group: str
    lead: str
    ack_timeout_s: int
    exhausted_every_s: int

    def to_json(self) -> dict[str, object]:
        """The decision as JSON-ready data (page_at as ISO 8601 UTC)."""
        return self.model_dump(mode="json")


def system_of(rules: Rules, alert: RoutableAlert, view: Mapping[str, str]) -> str | None:
    """The system an alert is about: the first matching one, except that the alerts skillpager
    raises itself for a missed heartbeat name theirs (label `system`), matchers or not."""
    if alert.source == "heartbeat":
        named = alert.labels.get("system")
        if named is not None and named in rules.systems:
            return named
    return rules.match(view)


def route(
    rules: Rules,
    alert: RoutableAlert,
    now: datetime,
    *,
    load: Mapping[str, int] | None = None,
    away: Mapping[str, datetime] | None = None,
) -> Decision:
    """Decide who to page for `alert` at `now`; `load` = acked open incidents per engineer,
    `away` = absences set at run time (engineer → when they end)."""
    now = now.astimezone(UTC)
    severity = severity_from_word(alert.severity)[0]
    word = severity.value
    view = match_view(alert, word)
    system = system_of(rules, alert, view)
    policy = rules.policy_for(system)
    ranking = rank(rules, system, now, load or {}, policy.min_level, away)
    mode: NotifyMode = getattr(policy.notify, word)
    action, page_at, rungs = _plan(mode, ranking, policy, rules, now)
    chosen = {engineer for rung in rungs for engineer in rung}
    reasons = explain(ranking, chosen, Context(rules, system, now))
    reasons += _notes(action, page_at, ranking, system, severity, policy, view)
    timeout = int(policy.ack_timeout.total_seconds())
    return Decision(
        system=system,
        customer=rules.systems[system].customer if system else view.get("customer") or None,
        severity=severity,
        action=action,
        page_at=page_at,
        unrouted=system is None,
        steps=tuple(LadderStep(i * timeout, rung) for i, rung in enumerate(rungs)),
        repeat=policy.repeat,
        reasons=tuple(reasons),
        group=_group(rules, alert, view, system),
        lead=rules.lead,
        ack_timeout_s=timeout,
        exhausted_every_s=int(policy.exhausted_every.total_seconds()),
    )


def _plan(
    mode: NotifyMode, ranking: Ranking, policy: Policy, rules: Rules, now: datetime
) -> tuple[Action, datetime | None, list[tuple[str, ...]]]:
    """Step 4 (notify) then step 5 (the ladder of the first round)."""
    if mode is NotifyMode.NEVER:
        return Action.DASHBOARD, None, []
    people = list(ranking.ordered)
    if mode is NotifyMode.WORKING_HOURS:
        people = [c for c in people if c.in_hours]
        wake = _earliest_hours(rules, ranking, now) if ranking.ordered and not people else None
        if wake is not None:
            return Action.WAIT, wake, []
    rungs = ladder(policy.steps, [c.engineer for c in people], rules.lead)
    return Action.PAGE, now, rungs


def _earliest_hours(rules: Rules, ranking: Ranking, now: datetime) -> datetime | None:
    schedules = rules.compiled.schedules
    # Engineers with the same zone and hours share a Schedule: compute each one's start once.
    shared = {schedules[candidate.engineer]: None for candidate in ranking.ordered}
    starts = [
        next_start(schedule.hours, schedule.tz, now)
        for schedule in shared
        if schedule.hours is not None
    ]
    return min((start for start in starts if start is not None), default=None)


def _notes(
    action: Action,
    page_at: datetime | None,
    ranking: Ranking,
    system: str | None,
    severity: Severity,
    policy: Policy,
    view: Mapping[str, str],
) -> list[Reason]:
    """Decision-wide notes (engineer None): unrouted, nobody able, waiting, dashboard only."""
    texts = []
    if system is None:
        texts.append(
            f"no system matched: unrouted, grouped by {_grouped_by(policy.group_by, view)}"
        )
    elif not ranking.ordered and action is Action.PAGE:
        texts.append(f"nobody can act on {system} now: only the lead step pages")
    if ranking.fallback:
        texts.append(f"nobody at level ≥ {ranking.min_level} present: any level counts")
    if action is Action.WAIT and page_at is not None:
        texts.append(
            f"{severity} pages in working hours only: waiting until {page_at:%a %Y-%m-%d %H:%M} UTC"
        )
    if action is Action.DASHBOARD:
        texts.append(f"{severity} never pages: dashboard only")
    return [Reason(None, False, text) for text in texts]


def _has_group_labels(group_by: tuple[str, ...], view: Mapping[str, str]) -> bool:
    return any(view.get(key) for key in group_by)


def _grouped_by(group_by: tuple[str, ...], view: Mapping[str, str]) -> str:
    if _has_group_labels(group_by, view):
        return ", ".join(group_by)
    return f"source and dedup key (no {', '.join(group_by)} label): an incident of its own"


def _group(rules: Rules, alert: RoutableAlert, view: Mapping[str, str], system: str | None) -> str:
    if system is not None:
        return f"system:{system}"
    group_by = rules.policy.group_by
    if not _has_group_labels(group_by, view):
        # Nothing to group by: one shared group would let unrelated alerts (an info test and a
        # critical outage) join one incident, and the second would page nobody.
        return f"unrouted-key:{alert.source}|{alert.dedup_key}"
    return "unrouted:" + "|".join(view.get(key, "") for key in group_by)


def group_of_view(rules: Rules, alert: RoutableAlert, view: Mapping[str, str]) -> str:
    """Incident group of an alert whose match view (`match_view`) is already built."""
    return _group(rules, alert, view, system_of(rules, alert, view))


def group_key(rules: Rules, alert: RoutableAlert, decision_or_system: Decision | str | None) -> str:
    """Incident group: 'system:<name>', 'unrouted:<group_by label values joined by |>', or,
    when every group_by value is empty, 'unrouted-key:<source>|<dedup key>' (its own)."""
    if isinstance(decision_or_system, Decision):
        decision_or_system = decision_or_system.system
    severity = severity_from_word(alert.severity)[0]
    return _group(rules, alert, match_view(alert, severity.value), decision_or_system)


def reason_for(decision: Decision, engineer_id: str) -> str:
    """Why `engineer_id` is paged, for the message: own reason, plus up to two away notes."""
    own = next(
        (r.text for r in decision.reasons if r.engineer == engineer_id and r.chosen), "paged"
    )
    away = [
        f"{r.engineer} {r.text}"
        for r in decision.reasons
        if r.engineer not in (None, engineer_id) and not r.chosen and r.text.startswith(AWAY)
    ]
    return "; ".join([own, *away[:2]])
