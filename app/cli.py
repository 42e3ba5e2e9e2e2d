"""The `skillpager` command: serve, migrate, prune, token, and the skills-map tools."""

import argparse
import asyncio
import errno
import gc
import socket
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.cli_support import (
    CliError,
    OneLineParser,
    check_rules_dir,
    confirm_or_refuse,
    customers_of,
    describe_failure,
    known_subject,
    load_map,
    read_payload,
    require_store,
)
from app.clock import SystemClock
from app.config import Settings, SettingsInvalid, load_settings
from app.doctor import run_doctor
from app.ingest.registry import PARSERS, parser_for
from app.logs import configure_logging
from app.main import create_app
from app.operations import channel_health, page_test, replay_dry_run
from app.operations import replay as run_replay
from app.routing.commands import check_command, coverage_command, route_command
from app.routing.issues import RulesError
from app.routing.loader import load_rules
from app.routing.moment import FORMS
from app.routing.timespec import parse_duration
from app.store.database import Database
from app.store.migrate import schema_is_current, upgrade_to_head
from app.store.rejections import print_rejections
from app.store.retention import prune
from app.store.session import make_engine
from app.store.tokens import ALL_SOURCES, TokenKind, create_token, list_tokens, revoke_token


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script: every error is one line on stderr, exit 2 for a
    usage error and 1 for a failure; `--debug` shows the traceback instead."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsInvalid as exc:
        for problem in exc.problems:
            print(f"invalid setting: {problem}", file=sys.stderr)
        return 2
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        return handler(args, settings)
    except CliError as exc:
        if args.debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        print(exc, file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"{describe_failure(exc, settings)} (--debug shows the traceback)", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="skillpager", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"skillpager {version('skillpager')}"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--migrate", action="store_true", help="migrate the schema first")
    serve.set_defaults(handler=_serve)

    commands.add_parser("migrate", help="bring the schema to head").set_defaults(handler=_migrate)
    commands.add_parser(
        "prune", help="delete raw events older than RETENTION_DAYS now, print the count"
    ).set_defaults(handler=_prune)

    check = commands.add_parser("check", help="validate a skills map directory")
    check.add_argument("dir", nargs="?", type=Path)
    check.set_defaults(handler=_check)

    dry = commands.add_parser("route", help="dry-run a payload: who would be paged, and why")
    dry.add_argument("--rules", type=Path)
    dry.add_argument("--source", default="generic", choices=sorted(PARSERS))
    dry.add_argument("--at", help=f"when (default: now): {FORMS}")
    dry.add_argument("--json", action="store_true", help="print only JSON on stdout")
    dry.add_argument("file", type=Path, help="payload file, or - for standard input")
    dry.set_defaults(handler=_route)

    cover = commands.add_parser("coverage", help="who is reachable per system, coming days")
    cover.add_argument("--days", type=int, default=7)
    cover.add_argument("--rules", type=Path)
    cover.set_defaults(handler=_coverage)

    replay = commands.add_parser(
        "replay", help="show what today's code does with a stored raw event (--apply stores it)"
    )
    replay.add_argument("event_id", type=int)
    replay.add_argument("--apply", action="store_true", help="store it as a new delivery (pages)")
    replay.add_argument("--yes", action="store_true", help="with --apply: do not ask")
    replay.set_defaults(handler=_replay)

    test = commands.add_parser("page-test", help="send a harmless test page to an engineer")
    test.add_argument("engineer")
    test.add_argument("--channel", choices=["sms", "slack", "voice"])
    test.add_argument(
        "--wait", type=_seconds, default=30.0, help="wait this long for delivery (30s)"
    )
    test.set_defaults(handler=_page_test)

    doctor = commands.add_parser("doctor", help="check settings, database, rules and providers")
    doctor.set_defaults(handler=_doctor)

    tail = commands.add_parser("log-tail", help="recent events kept in the database")
    tail.add_argument("--rejected", action="store_true", required=True, help="rejected requests")
    tail.add_argument("--limit", type=int, default=50)
    tail.set_defaults(handler=_log_tail)

    token = commands.add_parser("token", help="create, list or revoke API tokens")
    token_commands = token.add_subparsers(required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="create a token (printed once)")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--engineer", metavar="ID")
    who.add_argument("--customer", metavar="NAME")
    who.add_argument("--webhook", metavar="SOURCE|all")
    create.set_defaults(handler=_token_create)
    token_commands.add_parser("list", help="list tokens").set_defaults(handler=_token_list)
    revoke = token_commands.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id", type=int)
    revoke.set_defaults(handler=_token_revoke)
    _accept_debug(parser)
    return parser


def _accept_debug(parser: argparse.ArgumentParser) -> None:
    """`--debug` also after the command name (`skillpager route --debug x.json`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
                _accept_debug(sub)


def _seconds(text: str) -> float:
    """`--wait 30s` / `2m` / `0`: a duration in seconds."""
    if text.strip() in ("0", "0s"):
        return 0.0
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check(args: argparse.Namespace, settings: Settings) -> int:
    status = check_command(check_rules_dir(args.dir, settings))
    try:
        problems = asyncio.run(channel_health(settings))
    except (SQLAlchemyError, OSError):
        print("(no database reachable: channel health not checked)", file=sys.stderr)
        return status
    for line in problems:
        print(f"channel health: {line}")
    return status


def _route(args: argparse.Namespace, settings: Settings) -> int:
    rules_dir = check_rules_dir(args.rules, settings, option="--rules")
    payload, label = read_payload(str(args.file), sys.stdin.buffer)
    parse = parser_for(args.source)
    if parse is None:  # argparse's choices make this unreachable; kept for the type checker
        return 2
    return route_command(rules_dir, payload, args.source, args.at, args.json, parse, label=label)


def _coverage(args: argparse.Namespace, settings: Settings) -> int:
    rules_dir = check_rules_dir(args.rules, settings, option="--rules")
    return coverage_command(rules_dir, args.days, SystemClock().now())


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    require_store(settings)
    load_map(settings)  # a broken map: one line pointing at `skillpager check`
    if not args.apply:
        return asyncio.run(replay_dry_run(settings, args.event_id))
    if not args.yes:
        confirm_or_refuse(
            f"replay raw event {args.event_id} as a new delivery: this stores alerts "
            "and can page people now"
        )
    return asyncio.run(run_replay(settings, args.event_id))


def _page_test(args: argparse.Namespace, settings: Settings) -> int:
    require_store(settings)
    load_map(settings)  # a broken map: one line pointing at `skillpager check`
    return asyncio.run(page_test(settings, args.engineer, args.channel, wait_s=args.wait))


def _doctor(_args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(run_doctor(settings))


def _log_tail(args: argparse.Namespace, settings: Settings) -> int:
    require_store(settings)
    return asyncio.run(print_rejections(settings, args.limit))


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Bind the port, check the rest of what can fail at start, then run.

    Nothing runs before all of it passed: the engine (which sends due pages), the writer and
    the schedulers start in the app's lifespan, which uvicorn enters on the socket we already
    hold. A failed start therefore pages nobody and says why on stderr.
    """
    configure_logging(settings.log_format)
    host, port = args.host or settings.host, args.port or settings.port
    try:
        sock = _bind(host, port)
    except OSError as exc:
        print(_bind_problem(host, port, exc), file=sys.stderr)
        return 1
    with sock:
        if not _ready_to_serve(args, settings):
            return 1
        _serve_on(sock, host, port, settings)
    return 0


def _ready_to_serve(args: argparse.Namespace, settings: Settings) -> bool:
    """Whether the skills map loads and the database is reachable and current (else say why)."""
    try:
        load_rules(settings.rules_dir)
    except RulesError as exc:
        print(f"the skills map in {settings.rules_dir} has errors:", file=sys.stderr)
        print(exc, file=sys.stderr)
        return False
    problem = _database_problem(settings, migrate=args.migrate)
    if problem is not None:
        print(problem, file=sys.stderr)
        return False
    return True


def _serve_on(sock: socket.socket, host: str, port: int, settings: Settings) -> None:
    """Run the app on the bound socket until a signal stops it."""
    app = create_app(settings)
    # What is loaded by now (modules, their functions and types: ~160k objects) lives as long as
    # the process. Frozen, it is no longer walked by every full collection: those took ~100 ms,
    # about one in 30 dashboard requests, and set every endpoint's p99 (bench/memory.py).
    gc.collect()
    gc.freeze()
    # Each alert allocates a few dozen short-lived containers: with the default 700, young
    # collections ran every few alerts. 20,000 measured ~10% less CPU per alert under wrk
    # (bench/ingest.py), for a few MB more garbage between collections.
    gc.set_threshold(20_000, 20, 20)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default: anything local (or a
        # proxy that passes the header on) could then choose the address the limits count.
        proxy_headers=bool(settings.trusted_proxy_list),
        forwarded_allow_ips=settings.trusted_proxy_list,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _database_problem(settings: Settings, *, migrate: bool) -> str | None:
    """Why the database cannot serve (unreachable, schema behind), or None when it can."""
    try:
        if migrate:
            upgrade_to_head(settings.database_url)
            return None
        if asyncio.run(_schema_current(settings)):
            return None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot use the database ({_safe_url(settings.database_url)}): {reason}"
    return (
        "the database schema is behind: run `skillpager migrate` "
        "(or start with `skillpager serve --migrate`)"
    )


def _safe_url(url: str) -> str:
    """The database URL without its password, for an error line."""
    return make_url(url).render_as_string(hide_password=True)


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, as uvicorn would bind it (SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is in use; set SKILLPAGER_PORT or --port"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}; set SKILLPAGER_HOST or --host"


async def _schema_current(settings: Settings) -> bool:
    engine = make_engine(settings.database_url)
    try:
        return await schema_is_current(engine, settings.database_url)
    finally:
        await engine.dispose()


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    upgrade_to_head(settings.database_url)
    print("schema is at head")
    return 0


def _prune(_args: argparse.Namespace, settings: Settings) -> int:
    require_store(settings)

    async def run() -> int:
        db = Database(settings.database_url, busy_timeout_s=settings.db_timeout_s)
        try:
            keep = timedelta(days=settings.retention_days)
            return await prune(db, now=SystemClock().now(), keep=keep)
        finally:
            await db.dispose()

    deleted = asyncio.run(run())
    print(f"pruned {deleted} raw events older than {settings.retention_days} days")
    return 0


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.engineer:
        kind, subject = TokenKind.ENGINEER, args.engineer
        known_subject(subject, "engineer", load_map(settings).engineers, settings)
    elif args.customer:
        kind, subject = TokenKind.CUSTOMER, args.customer
        known_subject(subject, "customer", customers_of(load_map(settings)), settings)
    else:
        kind, subject = TokenKind.WEBHOOK, args.webhook
        known = (*PARSERS, "heartbeat")  # heartbeat: POST /heartbeats/{name} only
        if subject not in (ALL_SOURCES, *known):
            print(f"unknown source {subject!r}; known: all, {', '.join(known)}", file=sys.stderr)
            return 2

    require_store(settings)

    async def run() -> tuple[int, str]:
        engine = make_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                return await create_token(conn, kind=kind, subject=subject, now=SystemClock().now())
        finally:
            await engine.dispose()

    token_id, token = asyncio.run(run())
    print(f"token {token_id} ({kind} {subject}); shown once, keep it safe:")
    print(token)
    return 0


def _token_list(_args: argparse.Namespace, settings: Settings) -> int:
    require_store(settings)

    async def run() -> None:
        engine = make_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                for info in await list_tokens(conn):
                    state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
                    print(f"{info.id:>4}  {info.kind:<8}  {info.subject:<20}  {state}")
        finally:
            await engine.dispose()

    asyncio.run(run())
    return 0


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    require_store(settings)

    async def run() -> bool:
        engine = make_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                return await revoke_token(conn, token_id=args.token_id, now=SystemClock().now())
        finally:
            await engine.dispose()

    if not asyncio.run(run()):
        print(f"no active token {args.token_id}", file=sys.stderr)
        return 1
    print(f"token {args.token_id} revoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
