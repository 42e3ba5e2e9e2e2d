"""The loaded skills map: team, systems, maintenance and policy as one frozen value.

A `Rules` is what routing functions take. It precompiles what every routing decision would
otherwise recompute: the matcher, each system's effective policy, skill pool and lineup (named
experts, then the rest of the pool), and each engineer's schedule (zone, hours as a per-minute
mask, away dates), so a decision only works out what depends on the time and the load.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from app.routing.issues import RuleIssue
from app.routing.matcher import Matcher
from app.routing.schema import Engineer, Maintenance, Policy, System
from app.routing.timespec import DateRange, HoursWindow, week_mask


@dataclass(frozen=True, slots=True)
class SkillHolder:
    """An engineer with some level in a system's skills."""

    engineer: str
    levels: tuple[tuple[str, int], ...]  # (skill, level) in the system's skill order
    total: int
    best: int
    text: str  # "postgres 5 + payments 4 = 9", or "postgres 5" for one skill


class Rules(BaseModel):
    """The whole skills map; build it with `app.routing.loader.load_rules`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead: str
    engineers: dict[str, Engineer]
    systems: dict[str, System]  # file order: the first matching system wins
    maintenance: tuple[Maintenance, ...] = ()
    policy: Policy = Field(default_factory=Policy)
    version: str = ""  # sha256 of the files' bytes
    warnings: tuple[RuleIssue, ...] = ()

    def model_post_init(self, context: Any, /) -> None:
        """Precompile now, so the first alert does not pay for it."""
        _ = self.compiled

    @cached_property
    def compiled(self) -> "Compiled":
        """Matcher, effective policies and skill pools, derived once from the fields."""
        # A cached_property lands in the instance __dict__: plain attribute speed afterwards,
        # unlike a pydantic PrivateAttr, which is looked up through a descriptor every time.
        pools = {name: _pool(s.skills, self.engineers) for name, s in self.systems.items()}
        return Compiled(
            matcher=Matcher(self.systems),
            policies={name: self.policy.merged(s.policy) for name, s in self.systems.items()},
            pools=pools,
            lineups={name: _lineup(s.experts, pools[name]) for name, s in self.systems.items()},
            schedules=_schedules(self.engineers),
        )

    def match(self, view: Mapping[str, str]) -> str | None:
        """The system an alert (as its match view) is about, or None when unrouted."""
        return self.compiled.matcher.match(view)

    def policy_for(self, system: str | None) -> Policy:
        """Effective policy: policy.yaml with the system's override applied."""
        if system is None:
            return self.policy
        return self.compiled.policies.get(system, self.policy)

    def pool(self, system: str) -> tuple[SkillHolder, ...]:
        """Engineers with any level in the system's skills, by level sum desc, then id."""
        return self.compiled.pools[system]

    def lineup(self, system: str) -> "Lineup":
        """The system's named experts (deduplicated, in order), then the rest of its pool."""
        return self.compiled.lineups[system]


@dataclass(frozen=True, slots=True)
class Lineup:
    """Ranking step 1 without load: `experts` first, then `others` by level sum desc, then id."""

    experts: tuple[SkillHolder, ...]  # an expert without any of the skills has levels ()
    others: tuple[SkillHolder, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Schedule:
    """When an engineer is reachable: time zone, working hours, away dates.

    Engineers with equal ones share one object (compared by identity), so a decision computes
    each schedule's next start of hours once, not once per engineer.
    """

    tz: ZoneInfo
    hours: tuple[HoursWindow, ...] | None  # None: always in hours
    mask: bytes | None  # `week_mask(hours)`: in hours at a minute of the week, by one lookup
    away: tuple[DateRange, ...]


@dataclass(frozen=True, slots=True)
class Compiled:
    """What `Rules` derives from its fields for fast routing."""

    matcher: Matcher
    policies: dict[str, Policy]
    pools: dict[str, tuple[SkillHolder, ...]]
    lineups: dict[str, Lineup]
    schedules: dict[str, "Schedule"]  # engineer → time zone and hours (shared when equal)


def _pool(skills: tuple[str, ...], engineers: Mapping[str, Engineer]) -> tuple[SkillHolder, ...]:
    holders = []
    for engineer_id, engineer in engineers.items():
        levels = tuple(
            (skill, engineer.skills[skill]) for skill in skills if skill in engineer.skills
        )
        if levels:
            values = [level for _, level in levels]
            text = " + ".join(f"{skill} {level}" for skill, level in levels)
            text += f" = {sum(values)}" if len(levels) > 1 else ""
            holders.append(SkillHolder(engineer_id, levels, sum(values), max(values), text))
    # Static order (level sum desc, then id); ranking re-sorts stably only when load is given.
    return tuple(sorted(holders, key=lambda h: (-h.total, h.engineer)))


def _lineup(experts: tuple[str, ...], pool: tuple[SkillHolder, ...]) -> Lineup:
    holders = {holder.engineer: holder for holder in pool}
    named = tuple(
        holders.get(expert) or SkillHolder(expert, (), 0, 0, "")
        for expert in dict.fromkeys(experts)
    )
    named_ids = {holder.engineer for holder in named}
    return Lineup(named, tuple(holder for holder in pool if holder.engineer not in named_ids))


def _schedules(engineers: Mapping[str, Engineer]) -> dict[str, Schedule]:
    shared: dict[tuple[object, ...], Schedule] = {}
    by_engineer = {}
    for engineer_id, engineer in engineers.items():
        key = (engineer.timezone, engineer.hours, engineer.away)
        if key not in shared:
            mask = None if engineer.hours is None else week_mask(engineer.hours)
            shared[key] = Schedule(engineer.tz, engineer.hours, mask, engineer.away)
        by_engineer[engineer_id] = shared[key]
    return by_engineer
