"""Who can take an alert about a system at a moment: ARCHITECTURE §3 ranking steps 1-3 and 5.

Pure functions of (rules, system, now, open load). Notify (step 4) is applied by `decision`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from app.routing.rules import Rules, SkillHolder
from app.routing.schema import Step
from app.routing.timespec import away_until


@dataclass(frozen=True, slots=True)
class Candidate:
    """One engineer as considered for a decision."""

    engineer: str
    expert: bool
    levels: tuple[tuple[str, int], ...]
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


def rank(rules: Rules, system: str | None, now: datetime, load: Mapping[str, int]) -> Ranking:
    """Steps 1-3: experts, then level sums; away removed (with fallback); in-hours first."""
    min_level = rules.policy_for(system).min_level
    if system is None:  # unrouted: the lead is the only candidate
        lead = _candidate(rules, rules.lead, now, load, None, expert=False)
        return _finish([lead], [], min_level, fallback=False)
    experts = list(dict.fromkeys(rules.systems[system].experts))
    pool = rules.pool(system)
    holders = {holder.engineer: holder for holder in pool}
    listed = [_candidate(rules, e, now, load, holders.get(e), expert=True) for e in experts]
    others = [h for h in pool if h.engineer not in experts]
    if load:  # the pool is already by level sum, then id: a stable sort keeps that within ties
        others.sort(key=lambda h: (-h.total, load.get(h.engineer, 0)))
    listed += [_candidate(rules, h.engineer, now, load, h, expert=False) for h in others]
    qualified = [c for c in listed if c.expert or c.best >= min_level]
    below = [c for c in listed if not c.expert and c.best < min_level]
    if any(c.away_until is None for c in qualified):
        return _finish(qualified, below, min_level, fallback=False)
    # Nobody able is present: anyone with any level in the skills, same order, minus away.
    return _finish(listed, [], min_level, fallback=any(c.away_until is None for c in below))


def _candidate(
    rules: Rules,
    engineer_id: str,
    now: datetime,
    load: Mapping[str, int],
    holder: SkillHolder | None,
    *,
    expert: bool,
) -> Candidate:
    engineer = rules.engineers[engineer_id]
    local = now.astimezone(engineer.tz)
    hours = engineer.hours
    return Candidate(
        engineer=engineer_id,
        expert=expert,
        levels=holder.levels if holder is not None else (),
        best=holder.best if holder is not None else 0,
        load=load.get(engineer_id, 0) if load else 0,
        away_until=away_until(engineer.away, local.date()) if engineer.away else None,
        in_hours=hours is None or any(window.contains(local) for window in hours),
        local=local,
    )


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
        if step is Step.FIRST:
            who = tuple(candidates[:1])
        elif step is Step.NEXT:
            who = tuple(c for c in candidates if c not in paged)[:1]
        elif step is Step.ALL:
            who = tuple(c for c in candidates if c not in paged)
        else:
            who = (lead,)
        who = tuple(c for c in who if c not in paged)
        if who:
            paged.update(who)
            rungs.append(who)
    return rungs
