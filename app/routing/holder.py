"""The current good rules of a directory, reloadable without a restart.

A broken edit never replaces a good map: `reload()` keeps the last good `Rules` and reports the
errors. `changed()` is cheap enough to poll every ~2 s: a stat of three files, and a content
hash only when a stat differs (editors may rewrite a file with equal bytes).
"""

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.clock import Clock
from app.routing.issues import RuleIssue, RulesError
from app.routing.loader import FILES, RulesSource, parse_source, read_source
from app.routing.rules import Rules

_Stat = tuple[tuple[str, int, int] | None, ...]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """Outcome of the last load: ok, or the `file:line: message` errors; the files' version."""

    ok: bool
    version: str
    errors: tuple[str, ...]
    at: datetime


class RulesHolder:
    """Holds the current good `Rules` of `rules_dir`; the first load must succeed."""

    def __init__(self, rules_dir: Path, *, clock: Clock) -> None:
        """Load `rules_dir`; RulesError if the rules are broken from the start."""
        self._dir = rules_dir
        self._clock = clock
        self._lock = threading.Lock()
        self._stat = _stat(rules_dir)
        source = read_source(rules_dir)
        self._rules = parse_source(source)
        self._attempted = source.version
        self._last = ReloadResult(True, source.version, (), clock.now())

    @property
    def rules(self) -> Rules:
        """The current good rules."""
        return self._rules

    @property
    def version(self) -> str:
        """Hash of the files the current good rules were loaded from."""
        return self._rules.version

    @property
    def last_result(self) -> ReloadResult:
        """Outcome of the last load or reload."""
        return self._last

    def reload(self) -> ReloadResult:
        """Load the directory again; on errors keep the last good rules and return the errors."""
        with self._lock:
            self._stat = _stat(self._dir)
            try:
                source = read_source(self._dir)
            except OSError as exc:
                issue = RuleIssue(str(exc.filename or self._dir), 1, exc.strerror or str(exc))
                return self._record(False, self._attempted, (str(issue),))
            self._attempted = source.version
            return self._apply(source)

    def _apply(self, source: RulesSource) -> ReloadResult:
        try:
            rules = parse_source(source)
        except RulesError as exc:
            return self._record(False, source.version, tuple(str(i) for i in exc.issues))
        self._rules = rules
        return self._record(True, source.version, ())

    def _record(self, ok: bool, version: str, errors: tuple[str, ...]) -> ReloadResult:
        self._last = ReloadResult(ok, version, errors, self._clock.now())
        return self._last

    def changed(self) -> bool:
        """Whether the files differ from those last loaded (good or not), by stat then hash."""
        current = _stat(self._dir)
        if current == self._stat:
            return False
        try:
            version = read_source(self._dir).version
        except OSError:
            return True  # let reload() report it
        if version == self._attempted:
            self._stat = current  # touched, same bytes: nothing to do
            return False
        return True


def _stat(rules_dir: Path) -> _Stat:
    stats: list[tuple[str, int, int] | None] = []
    for name in FILES:
        try:
            info = (rules_dir / name).stat()
        except OSError:
            stats.append(None)
            continue
        stats.append((name, info.st_mtime_ns, info.st_size))
    return tuple(stats)
