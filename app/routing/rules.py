"""The loaded skills map: team, systems, maintenance and policy as one frozen value.

A `Rules` is what routing functions take. It precompiles what every routing decision would
otherwise recompute: the matcher, each system's effective policy, and each system's skill pool.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from app.routing.issues import RuleIssue
from app.routing.matcher import Matcher
from app.routing.schema import Engineer, Maintenance, Policy, System


@dataclass(frozen=True, slots=True)
class SkillHolder:
    """An engineer with some level in a system's skills."""

    engineer: str
    levels: tuple[tuple[str, int], ...]  # (skill, level) in the system's skill order
    total: int
    best: int


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

    _matcher: Matcher = PrivateAttr()
    _policies: dict[str, Policy] = PrivateAttr()
    _pools: dict[str, tuple[SkillHolder, ...]] = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Precompile the matcher, effective policies and skill pools."""
        self._matcher = Matcher(self.systems)
        self._policies = {
            name: self.policy.merged(system.policy) for name, system in self.systems.items()
        }
        self._pools = {
            name: _pool(system.skills, self.engineers) for name, system in self.systems.items()
        }

    def match(self, view: Mapping[str, str]) -> str | None:
        """The system an alert (as its match view) is about, or None when unrouted."""
        return self._matcher.match(view)

    def policy_for(self, system: str | None) -> Policy:
        """Effective policy: policy.yaml with the system's override applied."""
        return self._policies.get(system, self.policy) if system is not None else self.policy

    def pool(self, system: str) -> tuple[SkillHolder, ...]:
        """Engineers with any level in the system's skills, by level sum desc, then id."""
        return self._pools[system]


def _pool(skills: tuple[str, ...], engineers: Mapping[str, Engineer]) -> tuple[SkillHolder, ...]:
    holders = []
    for engineer_id, engineer in engineers.items():
        levels = tuple(
            (skill, engineer.skills[skill]) for skill in skills if skill in engineer.skills
        )
        if levels:
            values = [level for _, level in levels]
            holders.append(SkillHolder(engineer_id, levels, sum(values), max(values)))
    # Static order (level sum desc, then id); ranking re-sorts stably only when load is given.
    return tuple(sorted(holders, key=lambda h: (-h.total, h.engineer)))
