"""Every error is one line on stderr naming the file or value, exit 2 for a usage error and 1
for a failure, never a traceback unless --debug (issue 19, points 1, 6 and 9's --version).

"Unreadable file": the tests run as root, for whom chmod 000 changes nothing, so an unreadable
input is a directory where a file is expected, or a file of binary (not UTF-8) bytes.
"""

from pathlib import Path

import pytest

from tests.cli.support import Cli

_PAYLOAD = (
    '{"summary": "replica lag", "severity": "critical", "labels": {"service": "payments-db"}}'
)


def _files(directory: Path) -> dict[str, Path]:
    """The bad inputs, by kind."""
    bad = {
        "missing": directory / "nope.json",
        "directory": directory / "adir",
        "binary": directory / "binary.json",
        "invalid": directory / "invalid.json",
        "empty": directory / "empty.json",
    }
    bad["directory"].mkdir()
    bad["binary"].write_bytes(b"\xff\xfe\x00\x01")
    bad["invalid"].write_text("{")
    bad["empty"].write_text("")
    return bad


@pytest.mark.parametrize(
    ("kind", "code", "first_line"),
    [
        ("missing", 2, "nope.json: no such file"),
        ("directory", 2, "adir: is a directory, not a payload file"),
        (
            "binary",
            1,
            "binary.json: cannot parse the generic payload: malformed JSON: "
            "expected value at line 1 column 1",
        ),
        (
            "invalid",
            1,
            "invalid.json: cannot parse the generic payload: malformed JSON: "
            "EOF while parsing an object at line 1 column 1",
        ),
        ("empty", 1, "empty.json: file is empty (expected a JSON payload)"),
    ],
)
def test_route_payload_files(cli: Cli, kind: str, code: int, first_line: str) -> None:
    path = _files(cli.directory)[kind]
    done = cli.run("route", path.name)
    assert (done.code, done.first_err) == (code, first_line)
    assert len(done.err.splitlines()) == 1
    assert "Traceback" not in done.err


@pytest.mark.parametrize("command", ["check", "coverage --rules", "route --rules"])
@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [("missing", 2, "no such directory"), ("empty", 2, "not a directory")],
)
def test_rules_directories(cli: Cli, command: str, kind: str, code: int, message: str) -> None:
    """check DIR, coverage --rules DIR, route --rules DIR: a missing directory or a file."""
    path = _files(cli.directory)[kind]
    (cli.directory / "ok.json").write_text(_PAYLOAD)
    extra = ["ok.json"] if command.startswith("route") else []
    done = cli.run(*command.split(), path.name, *extra)
    option = "--rules " if "--rules" in command else ""
    suffix = " (give the skills map's directory)" if kind == "empty" else ""
    assert (done.code, done.first_err) == (code, f"{option}{path.name}: {message}{suffix}")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"\xff\xfe", "team.yaml:1: file is not UTF-8"),
        (
            b"lead: [\n",
            "team.yaml:2: YAML syntax: while parsing a flow node expected the node "
            "content, but found '<stream end>'",
        ),
        (b"", "team.yaml:1: missing required key 'lead'"),
        (
            b"- anna\n- bo\n",
            "team.yaml:1: must be a mapping with `lead:` and an `engineers:` "
            "mapping (id: details), not a list",
        ),
    ],
)
def test_check_broken_team_file(cli: Cli, content: bytes, line: str) -> None:
    """Binary, invalid, empty and wrongly shaped team.yaml: `file:line`, counted in the singular
    when there is one (`1 error`)."""
    (cli.rules_dir / "team.yaml").write_bytes(content)
    done = cli.run("check", str(cli.rules_dir))
    assert done.code == 1
    lines = done.out.splitlines()
    assert lines[0] == f"{cli.rules_dir}/{line}"
    count = len(lines) - 1
    assert lines[-1] == f"{count} error{'' if count == 1 else 's'} in {cli.rules_dir}"


def test_check_counts_in_the_singular(cli: Cli) -> None:
    done = cli.run("check", str(cli.rules_dir))
    assert done.code == 0
    assert ", 2 warnings (version" in done.out
    (cli.rules_dir / "team.yaml").write_text(
        (cli.rules_dir / "team.yaml").read_text().replace("payments: 4", "payments: 2")
    )
    assert ", 1 warning (version" in cli.run("check", str(cli.rules_dir)).out


@pytest.mark.parametrize(
    "args",
    [
        ["token", "list"],
        ["token", "create", "--webhook", "all"],
        ["token", "revoke", "1"],
        ["prune"],
        ["replay", "1"],
        ["page-test", "bo"],
        ["log-tail", "--rejected"],
    ],
)
def test_database_commands_without_a_database(cli: Cli, args: list[str]) -> None:
    """The SQLite file does not exist: said in one line, and not created by asking."""
    done = cli.run(*args)
    database = cli.directory / "skillpager.db"
    assert (done.code, done.err) == (
        1,
        f"database {database}: file not found (run `skillpager migrate`, "
        "or set SKILLPAGER_DATABASE_URL)\n",
    )
    assert not database.exists()


def test_database_behind(cli: Cli) -> None:
    (cli.directory / "skillpager.db").write_bytes(b"")  # an empty SQLite file: no schema
    done = cli.run("token", "list")
    database = cli.directory / "skillpager.db"
    assert (done.code, done.err) == (
        1,
        f"database sqlite+aiosqlite:///{database}: the schema is behind: "
        "run `skillpager migrate`\n",
    )


def test_usage_errors_are_one_line(cli: Cli) -> None:
    done = cli.run("route", "--at")
    assert (done.code, done.err) == (
        2,
        "skillpager route: argument --at: expected one argument (see skillpager route --help)\n",
    )
    done = cli.run("page-test", "--wait", "soon", "bo")
    assert (done.code, done.first_err) == (
        2,
        "skillpager page-test: argument --wait: duration must look like 30s, 5m, 1h or 1d, "
        "got 'soon' (see skillpager page-test --help)",
    )
    done = cli.run("frobnicate")
    assert done.code == 2
    assert done.first_err.startswith("skillpager: argument COMMAND: invalid choice: 'frobnicate'")


def test_unexpected_failure_is_one_line_and_debug_shows_the_traceback(cli: Cli) -> None:
    """A database that does not answer: one line, password masked; --debug: the traceback."""
    cli.env["SKILLPAGER_DATABASE_URL"] = "postgresql+asyncpg://nobody:secret@127.0.0.1:1/none"
    done = cli.run("token", "list")
    assert done.code == 1
    assert done.first_err.startswith("database postgresql+asyncpg://nobody:***@127.0.0.1:1/none: ")
    assert "secret" not in done.err
    assert len(done.err.splitlines()) == 1
    debug = cli.run("--debug", "prune")
    assert debug.code == 1
    assert "Traceback (most recent call last)" in debug.err


def test_version(cli: Cli) -> None:
    done = cli.run("--version")
    assert (done.code, done.out, done.err) == (0, "skillpager 0.1.0\n", "")
