"""`skillpager doctor`: the settings as loaded (secrets masked), then one OK/FAIL line per
check — database reachable and at head, skills map valid, each provider's credentials accepted
by the provider's own test endpoint, public URL reachable from here. Exit 1 when one fails."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import text

from app.cli_support import describe_failure, mask_url, plural
from app.config import Settings
from app.routing.issues import RulesError
from app.routing.loader import load_rules
from app.store.migrate import schema_is_current
from app.store.session import make_engine

_TIMEOUT_S = 5.0
Check = Callable[[Settings, httpx.AsyncClient], Awaitable[str]]


class CheckFailed(Exception):
    """A check's failure, said in one line."""


async def run_doctor(settings: Settings) -> int:
    """Print the settings and run every check; 0 when all pass, 1 otherwise."""
    print("settings:")
    for line in settings_lines(settings):
        print(f"  {line}")
    checks: list[tuple[str, Check]] = [
        ("database", _database),
        ("rules", _rules),
        ("twilio", _twilio),
        ("slack", _slack),
        ("public url", _public_url),
    ]
    failed = 0
    async with httpx.AsyncClient(timeout=_TIMEOUT_S, follow_redirects=False) as http:
        for name, check in checks:
            try:
                print(f"OK   {name}: {await check(settings, http)}")
            except CheckFailed as exc:
                failed += 1
                print(f"FAIL {name}: {exc}")
            except Exception as exc:  # noqa: BLE001 - any failure is that check's, not doctor's
                failed += 1
                print(f"FAIL {name}: {describe_failure(exc, settings)}")
    print(f"{plural(failed, 'check')} failed" if failed else "all checks passed")
    return 1 if failed else 0


def settings_lines(settings: Settings) -> list[str]:
    """`name = value` for every setting; secrets as `set (hidden)` / `unset`."""
    lines = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "set (hidden)"
        elif name == "database_url":
            shown = mask_url(value)
        elif value is None:
            shown = "unset"
        else:
            shown = str(value)
        lines.append(f"SKILLPAGER_{name.upper()} = {shown}")
    return lines


async def _database(settings: Settings, _http: httpx.AsyncClient) -> str:
    url = mask_url(settings.database_url)
    if settings.is_sqlite:
        path = settings.database_url.split(":///", 1)[1]
        if not Path(path).is_file():  # noqa: ASYNC240 - one stat; checking must not create it
            raise CheckFailed(f"{path}: file not found (run `skillpager migrate`)")
    engine = make_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        if not await schema_is_current(engine, settings.database_url):
            raise CheckFailed(f"{url} is reachable but behind: run `skillpager migrate`")
    finally:
        await engine.dispose()
    return f"{url} reachable, schema at head"


async def _rules(settings: Settings, _http: httpx.AsyncClient) -> str:
    if not settings.rules_dir.is_dir():
        raise CheckFailed(f"{settings.rules_dir}: no such directory")
    try:
        rules = load_rules(settings.rules_dir)
    except RulesError as exc:
        first = exc.issues[0]
        raise CheckFailed(
            f"{plural(len(exc.issues), 'error')} (first {first.file}:{first.line}: "
            f"{first.message}); run `skillpager check`"
        ) from None
    return (
        f"{settings.rules_dir}: {plural(len(rules.engineers), 'engineer')}, "
        f"{plural(len(rules.systems), 'system')}, {plural(len(rules.warnings), 'warning')}"
    )


async def _twilio(settings: Settings, http: httpx.AsyncClient) -> str:
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if not sid or token is None:
        return "not configured: SMS and voice pages go to the log and dashboard only"
    if not settings.twilio_from:
        raise CheckFailed("SKILLPAGER_TWILIO_FROM is unset: no SMS or call can be sent")
    url = f"{settings.twilio_api_url}/2010-04-01/Accounts/{sid}.json"
    answer = await http.get(url, auth=(sid, token.get_secret_value()))
    if answer.status_code == 401:
        raise CheckFailed(f"{settings.twilio_api_url} refused the account SID and auth token")
    if answer.status_code != 200:
        raise CheckFailed(f"{settings.twilio_api_url} answered {answer.status_code} for {sid}")
    status = answer.json().get("status", "?")
    if status != "active":
        raise CheckFailed(f"account {sid} is {status}")
    return f"account {sid} active at {settings.twilio_api_url}, sending from {settings.twilio_from}"


async def _slack(settings: Settings, http: httpx.AsyncClient) -> str:
    token = settings.slack_bot_token
    if token is None:
        return "not configured: Slack pages go to the log and dashboard only"
    answer = await http.post(
        f"{settings.slack_api_url}/auth.test",
        headers={"Authorization": f"Bearer {token.get_secret_value()}"},
    )
    body = answer.json() if answer.status_code == 200 else {}
    if not body.get("ok"):
        error = body.get("error") or f"HTTP {answer.status_code}"
        raise CheckFailed(f"{settings.slack_api_url}/auth.test refused the bot token: {error}")
    return f"bot {body.get('user', '?')} in {body.get('team', '?')} at {settings.slack_api_url}"


async def _public_url(settings: Settings, http: httpx.AsyncClient) -> str:
    url = f"{settings.public_url}/healthz"
    try:
        answer = await http.get(url)
    except httpx.HTTPError as exc:
        raise CheckFailed(
            f"{url}: {type(exc).__name__} {exc} (is `skillpager serve` running there?)"
        ) from None
    if answer.status_code != 200:
        raise CheckFailed(f"{url} answered {answer.status_code}")
    return f"{url} answered 200"
