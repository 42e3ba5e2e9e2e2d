"""Load a rules directory: read the three files once, validate, cross-check, collect warnings.

Every problem becomes a `file:line: message` issue and all of them are raised together, so one
`skillpager check` run shows everything to fix.
"""

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from app.routing import schema
from app.routing.checks import check_systems, check_team, warnings
from app.routing.issues import RuleIssue, RulesError
from app.routing.rules import Rules
from app.routing.salvage import systems_parts, team_parts
from app.routing.schema import Policy, SystemsFile, TeamFile
from app.routing.yamldoc import YamlDoc, read_yaml

FILES = ("team.yaml", "systems.yaml", "policy.yaml")
_OPTIONAL = frozenset({"policy.yaml"})
_MODELS = [m for m in vars(schema).values() if isinstance(m, type) and issubclass(m, BaseModel)]
_KNOWN_KEYS = sorted({name for model in _MODELS for name in model.model_fields})
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RulesSource:
    """The files' bytes as read once (None = absent) and their combined hash."""

    rules_dir: Path
    contents: dict[str, bytes | None]

    @property
    def version(self) -> str:
        """sha256 over every file's name and bytes: equal versions load equal rules."""
        digest = hashlib.sha256()
        for name in FILES:
            data = self.contents.get(name)
            digest.update(f"{name}:{-1 if data is None else len(data)}:".encode())
            digest.update(data or b"")
        return digest.hexdigest()


def read_source(rules_dir: Path) -> RulesSource:
    """Read the rules files (missing ones as None)."""
    contents = {}
    for name in FILES:
        path = rules_dir / name
        contents[name] = path.read_bytes() if path.is_file() else None
    return RulesSource(rules_dir, contents)


def load_rules(rules_dir: Path) -> Rules:
    """Load and check a rules directory; RulesError lists every `file:line` problem."""
    return parse_source(read_source(rules_dir))


def parse_source(source: RulesSource) -> Rules:
    """Build Rules from already-read files; RulesError lists every `file:line` problem."""
    issues: list[RuleIssue] = []
    docs = {name: _document(source, name, issues) for name in FILES}
    team = _validate(TeamFile, docs["team.yaml"], issues)
    systems = _validate(SystemsFile, docs["systems.yaml"], issues)
    policy = _validate(Policy, docs["policy.yaml"], issues)
    # The checks across entries and files also run on what is valid of a broken file.
    issues += check_team(team_parts(team, docs["team.yaml"]), docs["team.yaml"])
    issues += check_systems(
        systems_parts(systems, docs["systems.yaml"]),
        docs["systems.yaml"],
        engineers=_keys(docs["team.yaml"], "engineers"),
        names=_keys(docs["systems.yaml"], "systems") or set(),
    )
    if issues or team is None or systems is None or policy is None:
        raise RulesError(sorted(issues, key=lambda i: (_file_rank(i.file), i.line)))
    rules = Rules(
        lead=team.lead,
        engineers=team.engineers,
        systems=systems.systems,
        maintenance=systems.maintenance,
        policy=policy,
        version=source.version,
    )
    found = warnings(rules, docs["team.yaml"], docs["systems.yaml"], docs["policy.yaml"])
    return rules.model_copy(update={"warnings": tuple(found)})


def _keys(doc: YamlDoc, section: str) -> set[str] | None:
    """Names under a top-level mapping, read raw so that invalid entries still count."""
    data = doc.data.get(section) if isinstance(doc.data, dict) else None
    return set(data) if isinstance(data, dict) else None


def _label(source: RulesSource, name: str) -> str:
    return str(source.rules_dir / name)


def _file_rank(label: str) -> int:
    return next((i for i, name in enumerate(FILES) if label.endswith(name)), len(FILES))


def _document(source: RulesSource, name: str, issues: list[RuleIssue]) -> YamlDoc:
    """The file parsed; data None when it could not be read (the issue says why)."""
    label = _label(source, name)
    data = source.contents[name]
    if data is None:
        if name in _OPTIONAL:
            return YamlDoc(label, {})
        issues.append(RuleIssue(label, 1, "file not found"))
        return YamlDoc(label, None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issues.append(RuleIssue(label, line, "file is not UTF-8"))
        return YamlDoc(label, None)
    doc, found = read_yaml(label, text)
    issues += found
    return doc or YamlDoc(label, None)


# What each file must be at its top, said when it is something else (a list, a string).
_SHAPES = {
    TeamFile: "must be a mapping with `lead:` and an `engineers:` mapping (id: details)",
    SystemsFile: "must be a mapping with a `systems:` mapping (name: details)",
    Policy: "must be a mapping of policy settings (or empty for the defaults)",
}
_KINDS = {list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}


def _validate(model: type[_M], doc: YamlDoc, issues: list[RuleIssue]) -> _M | None:
    if doc.data is None:
        return None
    if not isinstance(doc.data, dict):
        found = _KINDS.get(type(doc.data), "a value")
        issues.append(RuleIssue(doc.file, 1, f"{_SHAPES[model]}, not {found}"))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(doc.issue(error["loc"], _message(doc, error)) for error in exc.errors())
        return None


def _message(doc: YamlDoc, error: ErrorDetails) -> str:
    loc = error["loc"]
    where = ".".join(str(part) for part in doc.known_prefix(loc))
    prefix = f"{where}: " if where else ""
    if error["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), _KNOWN_KEYS, n=1)
        return f"unknown key {where}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    if error["type"] == "missing":
        return f"{prefix}missing required key {loc[-1]!r}"
    return prefix + error["msg"].removeprefix("Value error, ")
