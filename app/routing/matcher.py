"""Alert → system: the first system in file order with an entry whose every key matches in full.

Patterns are compiled once. An entry with a literal key (a pattern without regex metacharacters)
is filed under that key and value, so most alerts test a handful of entries instead of all of
them; entries are numbered in file order and the lowest matching number wins, as if scanned.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from app.routing.schema import System

_META = frozenset(".^$*+?{}[]\\|()")


class RoutableAlert(Protocol):
    """What routing reads from an alert; app.core.alert.ParsedAlert satisfies it."""

    @property
    def source(self) -> str: ...

    @property
    def dedup_key(self) -> str: ...

    @property
    def severity(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


def match_view(alert: RoutableAlert, severity: str) -> dict[str, str]:
    """The labels rules match on: the alert's own, plus `monitor` and normalised `severity`."""
    view = dict(alert.labels)
    view["monitor"] = alert.source
    view["severity"] = severity  # shadows a raw `severity` label on purpose (§3 Matching)
    return view


def is_literal(pattern: str) -> bool:
    """A pattern without regex metacharacters full-matches exactly itself."""
    return _META.isdisjoint(pattern)


@dataclass(frozen=True, slots=True)
class _Regex:
    prefix: str  # literal head every match must start with: a cheap test before the regex
    compiled: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Entry:
    order: int
    system: str
    literals: tuple[tuple[str, str], ...]
    regexes: tuple[tuple[str, _Regex], ...]

    def matches(self, view: Mapping[str, str]) -> bool:
        for key, want in self.literals:
            if view.get(key, "") != want:
                return False
        for key, regex in self.regexes:
            value = view.get(key, "")
            if not value.startswith(regex.prefix) or regex.compiled.fullmatch(value) is None:
                return False
        return True

    def anchors(self) -> list[tuple[bool, str, str]]:
        """Ways to file this entry: (exact?, key, value or literal prefix)."""
        exact = [(True, key, value) for key, value in self.literals]
        return exact + [(False, key, r.prefix) for key, r in self.regexes if r.prefix]


class Matcher:
    """Compiled `match` entries of all systems, keeping file order as the tie-breaker."""

    def __init__(self, systems: Mapping[str, System]) -> None:
        entries = [
            _compile(order, name, entry)
            for order, (name, entry) in enumerate(
                (name, entry) for name, system in systems.items() for entry in system.match
            )
        ]
        self._exact: dict[str, dict[str, list[_Entry]]] = {}
        self._prefixed: dict[str, dict[str, list[_Entry]]] = {}
        self._lengths: dict[str, list[int]] = {}
        self._scan: list[_Entry] = []
        sizes = Counter(anchor for entry in entries for anchor in entry.anchors())
        for entry in entries:
            anchors = entry.anchors()
            if not anchors:
                self._scan.append(entry)
                continue
            # File under the rarest anchor: the fewest entries to test for an alert.
            exact, key, text = min(anchors, key=lambda anchor: sizes[anchor])
            index = self._exact if exact else self._prefixed
            index.setdefault(key, {}).setdefault(text, []).append(entry)
        for key, by_prefix in self._prefixed.items():
            self._lengths[key] = sorted({len(prefix) for prefix in by_prefix})

    def match(self, view: Mapping[str, str]) -> str | None:
        """Name of the first system (file order) with an entry matching `view`, else None."""
        best: _Entry | None = None
        for key, by_value in self._exact.items():
            entries = by_value.get(view.get(key, ""))
            if entries:  # most keys file nothing under an alert's value: skip the call
                best = _first(entries, view, best)
        for key, by_prefix in self._prefixed.items():
            value = view.get(key, "")
            for length in self._lengths[key]:
                if length > len(value):
                    break
                entries = by_prefix.get(value[:length])
                if entries:
                    best = _first(entries, view, best)
        if self._scan:
            best = _first(self._scan, view, best)
        return best.system if best is not None else None


def _first(
    entries: Iterable[_Entry], view: Mapping[str, str], best: _Entry | None
) -> _Entry | None:
    """The earlier of `best` and the first entry (in file order) of `entries` that matches."""
    for entry in entries:
        if best is not None and entry.order >= best.order:
            break
        if entry.matches(view):
            return entry
    return best


def _compile(order: int, system: str, entry: Mapping[str, str]) -> _Entry:
    literals = [(key, pattern) for key, pattern in entry.items() if is_literal(pattern)]
    regexes = [
        (key, _Regex(literal_prefix(pattern), re.compile(pattern)))
        for key, pattern in entry.items()
        if not is_literal(pattern)
    ]
    return _Entry(order, system, tuple(literals), tuple(regexes))


def literal_prefix(pattern: str) -> str:
    """Literal characters every full match of `pattern` starts with ('' when unsure)."""
    if _has_top_level_bar(pattern):  # "a|b": no common head
        return ""
    head = ""
    for char in pattern:
        if char in _META:
            # A quantifier applies to the character before it, so that one is optional.
            return head[:-1] if char in "*?{" else head
        head += char
    return head


def _has_top_level_bar(pattern: str) -> bool:
    depth, index, in_class = 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            index += 1
            # A "]" right after "[" or "[^" is a member of the class, not its end.
            index += pattern.startswith("^", index)
            index += pattern.startswith("]", index)
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        index += 1
    return False
