"""The parts of a broken rules file that are valid on their own, for the checks across keys.

When a file fails validation its errors are reported, but the checks that look across entries
and files (unknown lead, unknown experts, dependency cycles, …) must still see everything else,
so that one `skillpager check` run reports every independent error. Here each entry is
validated alone, with the keys that fail left out; what is left out is already reported.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from app.routing.schema import Engineer, Maintenance, System, SystemsFile, TeamFile
from app.routing.yamldoc import YamlDoc

_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class TeamParts:
    """What the team checks need from team.yaml, as far as it is valid."""

    lead: str | None  # None: missing or not a string (reported already)
    ids: frozenset[str] | None  # every engineer id written, valid or not (None: no mapping)
    engineers: dict[str, Engineer]  # each engineer validated alone, invalid keys left out
    left_out: dict[str, frozenset[str]] = field(default_factory=dict)  # id → keys left out


def team_parts(team: TeamFile | None, doc: YamlDoc) -> TeamParts:
    """The valid `team`, or what of `doc` validates entry by entry when `team` is None."""
    if team is not None:
        return TeamParts(team.lead, frozenset(team.engineers), dict(team.engineers))
    data = doc.data if isinstance(doc.data, dict) else {}
    raw = data.get("engineers")
    engineers: dict[str, Engineer] = {}
    left_out: dict[str, frozenset[str]] = {}
    for engineer_id, value in raw.items() if isinstance(raw, dict) else ():
        engineer, bad = salvage(Engineer, value)
        if engineer is not None:
            engineers[engineer_id], left_out[engineer_id] = engineer, bad
    lead = data.get("lead")
    return TeamParts(
        lead if isinstance(lead, str) else None,
        frozenset(raw) if isinstance(raw, dict) else None,
        engineers,
        left_out,
    )


def systems_parts(systems: SystemsFile | None, doc: YamlDoc) -> SystemsFile:
    """The valid `systems`, or what of `doc` validates entry by entry when `systems` is None.

    Only for the cross-checks: the result is built without whole-file validation.
    """
    if systems is not None:
        return systems
    data = doc.data if isinstance(doc.data, dict) else {}
    raw_systems = data.get("systems")
    valid: dict[str, System] = {}
    for name, value in raw_systems.items() if isinstance(raw_systems, dict) else ():
        system = salvage(System, value)[0]
        if system is not None:
            valid[name] = system
    raw_windows = data.get("maintenance")
    windows = [_window(value) for value in raw_windows] if isinstance(raw_windows, list) else []
    return SystemsFile.model_construct(
        systems=valid, maintenance=tuple(w for w in windows if w is not None)
    )


def _window(value: object) -> Maintenance | None:
    """A maintenance entry for the reference checks, even if its shape is wrong."""
    window = salvage(Maintenance, value)[0]
    if window is not None or not isinstance(value, Mapping):
        return window
    # The shape check (start + end, or every + duration) failed: keep what it refers to.
    system, customer = value.get("system"), value.get("customer")
    return Maintenance.model_construct(
        system=system if isinstance(system, str) else None,
        customer=customer if isinstance(customer, str) else None,
    )


def salvage(model: type[_M], value: object) -> tuple[_M | None, frozenset[str]]:
    """`value` validated as `model`, leaving out the keys that fail; None if still invalid.

    Also returns the keys left out, so a check does not report a key as missing when it is
    only invalid (a bad phone is not also "no phone").
    """
    if not isinstance(value, Mapping):
        return None, frozenset()
    try:
        return model.model_validate(value), frozenset()
    except ValidationError as exc:
        bad = frozenset(str(error["loc"][0]) for error in exc.errors() if error["loc"])
    if not bad:  # an error about the entry as a whole: nothing to leave out
        return None, bad
    try:
        return model.model_validate({k: v for k, v in value.items() if k not in bad}), bad
    except ValidationError:
        return None, bad
