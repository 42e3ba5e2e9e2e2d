"""Who can take an alert about a system at a moment: ARCHITECTURE §3 ranking steps 1-3 and 5.

Pure functions of (rules, system, now, open load). Notify (step 4) is applied by `decision`.
The static part of step 1 (experts, level sums) is precompiled per system in `Rules.lineup`;
only what depends on `now` and the load is computed here, each time zone's wall clock once.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from app.routing.rules import Rules, SkillHolder
from app.routing.schema import Step
from app.routing.timespec import away_until, minute_of_week


class Candidate(NamedTuple):
    """One engineer as considered for a decision.

    A NamedTuple rather than a frozen dataclass: just as immutable, and about three times
    cheaper to build, which counts as one is built for every candidate of every alert.
    """

    engineer: str
    expert: bool
    skills: str  # the levels as text, "postgres 5 + payments 4 = 9" ("" if none)
    best: int  # highest level in the system's skills (0 if none)
    load: int
    away_until: date | None
    in_hours: bool
    local: datetime  # `now` on the engineer's wall clock


@dataclass(frozen=True, slots=True)
class Ranking:
    """Candidates in paging order, and those left out (away, or level below min_level)."""

    ordered: tuple[Candidate, ...]
    away: tuple[Candidate, ...]
    below: tuple[Candidate, ...]
    min_level: int
    fallback: bool  # nobody at min_level was present, so any level counts


def rank(
    rules: Rules,
    system: str | None,
    now: datetime,
    load: Mapping[str, int],
    min_level: int,
    away: Mapping[str, datetime] | None = None,
) -> Ranking:
    """Steps 1-3: experts, then level sums; away removed (with fallback); in-hours first.

    `away` holds absences set at run time (`away 3d` by SMS): engineer → when they end.
    """
    candidate = _People(rules, now, load, away or {}).candidate
    if system is None:  # unrouted: the lead is the only candidate
        lead = candidate(SkillHolder(rules.lead, (), 0, 0, ""), False)
        return _finish([lead], [], min_level, fallback=False)
    lineup = rules.lineup(system)
    others: Sequence[SkillHolder] = lineup.others
    if load:  # the lineup is by level sum, then id: a stable sort keeps that within ties
        others = sorted(others, key=lambda h: (-h.total, load.get(h.engineer, 0)))
    listed = [candidate(h, True) for h in lineup.experts]
    listed += [candidate(h, False) for h in others]
    qualified = [c for c in listed if c.expert or c.best >= min_level]
    below = [c for c in listed if not c.expert and c.best < min_level]
    if any(c.away_until is None for c in qualified):
        return _finish(qualified, below, min_level, fallback=False)
    # Nobody able is present: anyone with any level in the skills, same order, minus away.
    return _finish(listed, [], min_level, fallback=any(c.away_until is None for c in below))


class _People:
    """Builds the candidates of one decision; each zone's wall clock is computed only once."""

    __slots__ = ("_away", "_clocks", "_load", "_now", "_schedules")

    def __init__(
        self, rules: Rules, now: datetime, load: Mapping[str, int], away: Mapping[str, datetime]
    ) -> None:
        self._schedules = rules.compiled.schedules
        self._now = now
        self._load = load
        self._away = away
        self._clocks: dict[ZoneInfo, tuple[datetime, int]] = {}

    def candidate(self, holder: SkillHolder, expert: bool) -> Candidate:
        engineer_id = holder.engineer
        schedule = self._schedules[engineer_id]
        clock = self._clocks.get(schedule.tz)
        if clock is None:
            local = self._now.astimezone(schedule.tz)
            clock = self._clocks[schedule.tz] = (local, minute_of_week(local))
        local, minute = clock
        mask = schedule.mask
        return Candidate(
            engineer_id,
            expert,
            holder.text,
            holder.best,
            self._load.get(engineer_id, 0) if self._load else 0,
            self._away_until(engineer_id, schedule.away, local),
            mask is None or mask[minute] == 1,
            local,
        )

    def _away_until(self, engineer_id: str, ranges: Any, local: datetime) -> date | None:
        # A run-time absence (a datetime, shown in the engineer's zone) wins over the YAML dates.
        until = self._away.get(engineer_id)
        if until is not None and until > self._now:
            return until.astimezone(local.tzinfo).replace(second=0, microsecond=0, tzinfo=None)
        return away_until(ranges, local.date()) if ranges else None


def _finish(
    listed: Sequence[Candidate], below: Sequence[Candidate], min_level: int, *, fallback: bool
) -> Ranking:
    present = [c for c in listed if c.away_until is None]
    ordered = [c for c in present if c.in_hours] + [c for c in present if not c.in_hours]
    away = tuple(c for c in listed if c.away_until is not None)
    return Ranking(tuple(ordered), away, tuple(below), min_level, fallback)


def ladder(steps: Sequence[Step], candidates: Sequence[str], lead: str) -> list[tuple[str, ...]]:
    """Step 5 for one round: who each non-empty step pages, in order."""
    paged: set[str] = set()
    rungs: list[tuple[str, ...]] = []
    for step in steps:
        if step is Step.LEAD:
            who: tuple[str, ...] = (lead,) if lead not in paged else ()
        elif step is Step.ALL:
            who = tuple(c for c in candidates if c not in paged)
        elif step is Step.FIRST:
            who = tuple(c for c in candidates[:1] if c not in paged)
        else:  # NEXT
            who = next(((c,) for c in candidates if c not in paged), ())
        if who:
            paged.update(who)
            rungs.append(who)
    return rungs
