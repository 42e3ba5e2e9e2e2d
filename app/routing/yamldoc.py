"""YAML text → plain data plus the line of every key, so any later error can name its line.

We compose nodes ourselves (instead of ruamel's constructor) to report *all* duplicate keys with
their lines, keep timestamps as the text the author wrote, and never run custom tags.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.routing.issues import RuleIssue

Loc = tuple[str | int, ...]
_TAG = "tag:yaml.org,2002:"


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A parsed file: its data (dicts, lists, scalars) and the 1-based line of every path."""

    file: str
    data: object
    lines: dict[Loc, int] = field(default_factory=dict)

    def known_prefix(self, loc: Sequence[str | int]) -> Loc:
        """The parts of `loc` that exist in the file (pydantic adds parts that are not keys)."""
        found: Loc = ()
        for part in loc:
            if (*found, part) in self.lines:
                found = (*found, part)
        return found

    def line_of(self, loc: Sequence[str | int]) -> int:
        """Line of the deepest part of `loc` that exists in the file (1 if none)."""
        return self.lines.get(self.known_prefix(loc), 1)

    def issue(self, loc: Sequence[str | int], message: str) -> RuleIssue:
        """An issue at the line of `loc`."""
        return RuleIssue(self.file, self.line_of(loc), message)


def read_yaml(file: str, text: str) -> tuple[YamlDoc | None, list[RuleIssue]]:
    """Parse one YAML document (None on a syntax error); problems come back as issues."""
    try:
        node = YAML(typ="rt").compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        return None, [RuleIssue(file, line, f"YAML syntax: {problem}")]
    except YAMLError as exc:
        return None, [RuleIssue(file, 1, f"YAML syntax: {exc}")]
    builder = _Builder(file)
    data = builder.build(node, ()) if node is not None else None
    # An empty file (or a lone `~`) is an empty mapping: policy.yaml may be all defaults.
    return YamlDoc(file, {} if data is None else data, builder.lines), builder.issues


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Loc, int] = {}
        self.issues: list[RuleIssue] = []

    def build(self, node: Node, loc: Loc) -> object:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                items.append(self.build(item, (*loc, index)))
            return items
        assert isinstance(node, ScalarNode)  # noqa: S101 - the composer yields only these three
        return _scalar(node)

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node)) if isinstance(key_node, ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            if key in result:
                first = self.lines[(*loc, key)]
                self.issues.append(
                    RuleIssue(self.file, line, f"duplicate key {key!r} (first at line {first})")
                )
                continue
            self.lines[(*loc, key)] = line
            result[key] = self.build(value_node, (*loc, key))
        return result


def _scalar(node: ScalarNode) -> object:
    tag = str(getattr(node.tag, "value", node.tag))
    text: str = node.value
    kind = tag.removeprefix(_TAG) if tag.startswith(_TAG) else "str"
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        return _int(text)
    if kind == "float":
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    # str, and timestamps kept as written: the schema parses dates in the engineer's time zone.
    return text


def _int(text: str) -> int | str:
    cleaned = text.replace("_", "")
    for base in (10, 0):
        try:
            return int(cleaned, base)
        except ValueError:
            continue
    return text
