"""What every `skillpager` command shares: one-line errors, checked inputs, the store guard.

Exit codes: 2 for a usage error (a bad option, a file or directory named on the command line
that is missing, is a directory, or an unknown id), 1 for a failure (content that does not parse,
a database that is unreachable or behind, a provider that refuses).
"""

import argparse
import asyncio
import difflib
import sys
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO, NoReturn

from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings
from app.routing.issues import RulesError
from app.routing.loader import load_rules
from app.routing.rules import Rules
from app.store.migrate import schema_is_current
from app.store.session import make_engine


class CliError(Exception):
    """A failure to report as one line on stderr with exit `code` (2 usage, 1 failure)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line instead of the usage block plus the error."""

    def error(self, message: str) -> NoReturn:
        """Print `skillpager route: <message> (see skillpager route --help)`, exit 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def describe_failure(exc: BaseException, settings: Settings) -> str:
    """One line for an unexpected failure: what failed and on what, without the traceback."""
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return f"database {mask_url(settings.database_url)}: {first}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def mask_url(url: str) -> str:
    """A database URL with its password replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def check_rules_dir(given: Path | None, settings: Settings, *, option: str = "") -> Path:
    """The rules directory to use; CliError (exit 2) when it is missing or not a directory."""
    path = given or settings.rules_dir
    named = f"{option} {path}" if given and option else str(path)
    if given is None:
        named = f"SKILLPAGER_RULES_DIR={path}"
    if not path.exists():
        raise CliError(f"{named}: no such directory", 2)
    if not path.is_dir():
        raise CliError(f"{named}: not a directory (give the skills map's directory)", 2)
    return path


def read_payload(name: str, stdin: BinaryIO) -> tuple[bytes, str]:
    """The bytes of a payload file (`-` = standard input) and the name to report it by."""
    if name == "-":
        return stdin.read(), "standard input"
    path = Path(name)
    if not path.exists():
        raise CliError(f"{name}: no such file", 2)
    if path.is_dir():
        raise CliError(f"{name}: is a directory, not a payload file", 2)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{name}: cannot read: {exc.strerror or exc}", 2) from None
    if not data.strip():
        raise CliError(f"{name}: file is empty (expected a JSON payload)", 1)
    return data, name


def require_store(settings: Settings) -> None:
    """CliError unless the database is there and at head (checking must not create it)."""
    url = mask_url(settings.database_url)
    if settings.is_sqlite:
        path = settings.database_url.split(":///", 1)[1]
        if path and path != ":memory:" and not Path(path).is_file():
            raise CliError(
                f"database {path}: file not found (run `skillpager migrate`, "
                "or set SKILLPAGER_DATABASE_URL)"
            )
    try:
        current = asyncio.run(_schema_current(settings.database_url))
    except SQLAlchemyError as exc:
        raise CliError(describe_failure(exc, settings)) from exc
    except OSError as exc:  # the driver's own connect failure (refused, no such host)
        raise CliError(f"database {url}: {exc.strerror or exc}") from exc
    if not current:
        raise CliError(f"database {url}: the schema is behind: run `skillpager migrate`")


async def _schema_current(url: str) -> bool:
    engine = make_engine(url)
    try:
        return await schema_is_current(engine, url)
    finally:
        await engine.dispose()


def confirm_or_refuse(what: str) -> None:
    """Ask `what? [y/N]` on the terminal; CliError (exit 2) without a terminal or a yes."""
    if not sys.stdin.isatty():
        raise CliError(f"{what}; no terminal to confirm on: add --yes", 2)
    answer = input(f"{what}. Go ahead? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError("nothing done", 1)


def load_map(settings: Settings) -> Rules:
    """The skills map of RULES_DIR; CliError when it does not load."""
    rules_dir = check_rules_dir(None, settings)
    try:
        return load_rules(rules_dir)
    except RulesError as exc:
        raise CliError(
            f"{rules_dir}: the skills map has {plural(len(exc.issues), 'error')} "
            "(run `skillpager check`)"
        ) from None


def customers_of(rules: Rules) -> set[str]:
    """Every customer the skills map names (systems and maintenance entries)."""
    named = {system.customer for system in rules.systems.values()}
    named |= {entry.customer for entry in rules.maintenance}
    return {name for name in named if name}


def known_subject(name: str, kind: str, known: Collection[str], settings: Settings) -> None:
    """CliError (exit 2) naming the close matches when `name` is not a known `kind`."""
    if name in known:
        return
    hint = difflib.get_close_matches(name, list(known), n=1)
    where = "team.yaml" if kind == "engineer" else "systems.yaml"
    suffix = f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(sorted(known))}"
    raise CliError(f"unknown {kind} {name!r}: not in {settings.rules_dir / where}{suffix}", 2)


def plural(count: int, word: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{count} {word}{'' if count == 1 else 's'}"
