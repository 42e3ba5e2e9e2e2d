"""Checks across keys and files that a single model cannot make, and the warnings.

Each check names the exact line of the offending item (an expert, a channel, a depends_on entry),
so `skillpager check` points the editor at the right place.
"""

from collections.abc import Iterator, Mapping, Sequence

from app.routing.issues import RuleIssue
from app.routing.rules import Rules
from app.routing.salvage import TeamParts
from app.routing.schema import Channel, Engineer, Step, SystemsFile
from app.routing.yamldoc import YamlDoc

_NEEDS = {Channel.SMS: "phone", Channel.VOICE: "phone", Channel.SLACK: "slack"}
_CONTACT_KEYS = frozenset({"phone", "slack", "channels"})


def check_team(team: TeamParts, doc: YamlDoc) -> list[RuleIssue]:
    """The lead exists; every channel has its contact; everyone can be paged somehow.

    `team` may be what is left of a broken file: the lead is checked against every id written,
    and a contact left out as invalid (reported already) counts as given.
    """
    issues = []
    if team.lead is not None and team.ids is not None and team.lead not in team.ids:
        issues.append(doc.issue(("lead",), f"lead {team.lead!r} is not in engineers"))
    for engineer_id, engineer in team.engineers.items():
        left_out = team.left_out.get(engineer_id, frozenset())
        issues.extend(_contact_issues(engineer_id, engineer, left_out, doc))
    return issues


def _contact_issues(
    engineer_id: str, engineer: Engineer, left_out: frozenset[str], doc: YamlDoc
) -> Iterator[RuleIssue]:
    # A contact left out as invalid, or an unknown key (`phnoe`), may be the missing contact:
    # that error is reported already, so do not report its consequence too.
    unsure = left_out & _CONTACT_KEYS or left_out - Engineer.model_fields.keys()
    for index, channel in enumerate(engineer.channels or ()):
        need = _NEEDS[channel]
        if getattr(engineer, need) is None and not unsure:
            where = ("engineers", engineer_id, "channels", index)
            yield doc.issue(where, f"{engineer_id}: channel {channel} needs {need}")
    if not engineer.paging_channels and not unsure:
        yield doc.issue(("engineers", engineer_id), f"{engineer_id}: no phone or slack to page")


def check_systems(
    systems: SystemsFile, doc: YamlDoc, *, engineers: set[str] | None, names: set[str]
) -> list[RuleIssue]:
    """Experts, depends_on, heartbeats and maintenance targets refer to things that exist.

    `systems` may be what is left of a broken file (`salvage.systems_parts`: each entry with its
    invalid keys left out); `names` are all system names written, and `engineers` all engineer
    ids in team.yaml (None if unreadable), so one broken entry does not hide other errors.
    """
    issues: list[RuleIssue] = []
    for name in systems.systems:
        issues += _system_refs(name, systems, doc, engineers, names)
    issues += _cycles(systems, doc)
    issues += _heartbeat_names(systems, doc)
    return issues + _maintenance_refs(systems, doc, names)


def _system_refs(
    name: str, systems: SystemsFile, doc: YamlDoc, engineers: set[str] | None, names: set[str]
) -> list[RuleIssue]:
    system, loc = systems.systems[name], ("systems", name)
    issues = _duplicates(doc, (*loc, "skills"), system.skills, "skill")
    issues += _duplicates(doc, (*loc, "experts"), system.experts, "expert")
    issues += _duplicates(doc, (*loc, "depends_on"), system.depends_on, "dependency")
    for index, expert in enumerate(system.experts):
        if engineers is not None and expert not in engineers:
            issues.append(doc.issue((*loc, "experts", index), f"unknown engineer {expert!r}"))
    for index, other in enumerate(system.depends_on):
        if other not in names or other == name:
            what = "itself" if other == name else f"unknown system {other!r}"
            issues.append(doc.issue((*loc, "depends_on", index), f"depends_on {what}"))
    return issues


def _maintenance_refs(systems: SystemsFile, doc: YamlDoc, names: set[str]) -> list[RuleIssue]:
    customers = {system.customer for system in systems.systems.values()}
    issues = []
    for index, window in enumerate(systems.maintenance):
        loc = ("maintenance", index)
        if window.system is not None and window.system not in names:
            issues.append(doc.issue((*loc, "system"), f"unknown system {window.system!r}"))
        if window.customer is not None and window.customer not in customers:
            issues.append(doc.issue((*loc, "customer"), f"unknown customer {window.customer!r}"))
    return issues


def _duplicates(
    doc: YamlDoc, loc: tuple[str, ...], items: Sequence[str], what: str
) -> list[RuleIssue]:
    seen: set[str] = set()
    issues = []
    for index, item in enumerate(items):
        if item in seen:
            issues.append(doc.issue((*loc, index), f"duplicate {what} {item!r}"))
        seen.add(item)
    return issues


def _cycles(systems: SystemsFile, doc: YamlDoc) -> list[RuleIssue]:
    graph = {
        name: [d for d in s.depends_on if d in systems.systems]
        for name, s in systems.systems.items()
    }
    reported: set[frozenset[str]] = set()
    issues = []
    for start in graph:
        cycle = _cycle_from(start, graph)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            path = " → ".join([*cycle, cycle[0]])
            issues.append(
                doc.issue(("systems", cycle[0], "depends_on"), f"depends_on cycle: {path}")
            )
    return issues


def _cycle_from(start: str, graph: Mapping[str, list[str]]) -> list[str] | None:
    """A dependency cycle through `start`, as the list of systems on it, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for other in graph[node]:
            if other == start and len(path) > 1:
                return path
            if other not in seen and other != start:
                seen.add(other)
                stack.append((other, [*path, other]))
    return None


def _heartbeat_names(systems: SystemsFile, doc: YamlDoc) -> list[RuleIssue]:
    issues = []
    owner: dict[str, str] = {}
    for name, system in systems.systems.items():
        if system.heartbeat is None:
            continue
        beat = system.heartbeat.name or name
        if beat in owner:
            loc = ("systems", name, "heartbeat")
            issues.append(doc.issue(loc, f"heartbeat {beat!r} already used by {owner[beat]}"))
        owner.setdefault(beat, name)
    return issues


def single_holders(rules: Rules) -> dict[str, str]:
    """Skills used by systems that only one engineer holds at level ≥ min_level: skill → id."""
    used = {skill for system in rules.systems.values() for skill in system.skills}
    holders: dict[str, list[str]] = {}
    for engineer_id, engineer in rules.engineers.items():
        for skill, level in engineer.skills.items():
            if skill in used and level >= rules.policy.min_level:
                holders.setdefault(skill, []).append(engineer_id)
    return {skill: ids[0] for skill, ids in sorted(holders.items()) if len(ids) == 1}


def warnings(rules: Rules, team: YamlDoc, systems: YamlDoc, policy: YamlDoc) -> list[RuleIssue]:
    """Systems nobody can act on, skills with a bus factor of 1, a ladder without `lead`."""
    found = []
    for name, system in rules.systems.items():
        min_level = rules.policy_for(name).min_level
        if not system.experts and all(h.best < min_level for h in rules.pool(name)):
            needed = ", ".join(system.skills) or "no skills listed"
            text = f"nobody can act on {name}: no expert, nobody at level ≥ {min_level} in {needed}"
            found.append(systems.issue(("systems", name), text))
    for skill, engineer in single_holders(rules).items():
        text = f"only {engineer} has {skill} at level ≥ {rules.policy.min_level} (bus factor 1)"
        found.append(team.issue(("engineers", engineer, "skills", skill), text))
    if Step.LEAD not in rules.policy.steps:
        text = "steps has no lead: an alert nobody can take pages no one until exhausted_every"
        found.append(policy.issue(("steps",), text))
    return found
