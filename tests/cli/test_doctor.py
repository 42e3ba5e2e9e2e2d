"""`skillpager doctor`: settings as loaded (secrets masked), then one OK/FAIL line per check;
exit 1 when one fails (issue 19, point 9)."""

from pathlib import Path

from tests.cli.support import Cli
from tests.fakes.slack_server import BOT_TOKEN, SlackFake
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support.server import ServerProcess


def _providers(cli: Cli, twilio: TwilioFake, slack: SlackFake, *, auth_token: str) -> None:
    cli.env |= {
        "SKILLPAGER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "SKILLPAGER_TWILIO_AUTH_TOKEN": auth_token,
        "SKILLPAGER_TWILIO_FROM": "+15550001111",
        "SKILLPAGER_TWILIO_API_URL": twilio.url,
        "SKILLPAGER_SLACK_BOT_TOKEN": BOT_TOKEN if auth_token == AUTH_TOKEN else "xoxb-wrong",
        "SKILLPAGER_SLACK_API_URL": slack.url,
        "SKILLPAGER_SESSION_SECRET": "a-session-secret-of-the-test",
    }


def _checks(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("OK   ", "FAIL "))]


def test_everything_fine(
    cli: Cli, tmp_path: Path, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> None:
    (tmp_path / "server").mkdir()
    with ServerProcess(tmp_path / "server") as server:
        cli.env |= {
            "SKILLPAGER_DATABASE_URL": server.database_url,
            "SKILLPAGER_PUBLIC_URL": server.base_url,
        }
        _providers(cli, twilio_fake, slack_fake, auth_token=AUTH_TOKEN)
        done = cli.run("doctor")
    assert done.code == 0, done.out
    assert _checks(done.out) == [
        f"OK   database: {server.database_url} reachable, schema at head",
        f"OK   rules: {cli.rules_dir}: 3 engineers, 2 systems, 2 warnings",
        f"OK   twilio: account {ACCOUNT_SID} active at {twilio_fake.url}, sending from "
        "+15550001111",
        f"OK   slack: bot skillpager in Fake Team at {slack_fake.url}",
        f"OK   public url: {server.base_url}/healthz answered 200",
    ]
    assert done.out.splitlines()[-1] == "all checks passed"
    assert "  SKILLPAGER_TWILIO_AUTH_TOKEN = set (hidden)" in done.out
    assert "  SKILLPAGER_SESSION_SECRET = set (hidden)" in done.out
    for secret in (AUTH_TOKEN, BOT_TOKEN, "a-session-secret-of-the-test"):
        assert secret not in done.out


def test_failures_one_line_each(cli: Cli, twilio_fake: TwilioFake, slack_fake: SlackFake) -> None:
    _providers(cli, twilio_fake, slack_fake, auth_token="wrong-token")
    cli.env["SKILLPAGER_PUBLIC_URL"] = "http://127.0.0.1:9"  # discard port: nothing listens
    (cli.rules_dir / "team.yaml").write_text("- anna\n")
    done = cli.run("doctor")
    assert done.code == 1
    database = cli.directory / "skillpager.db"
    assert _checks(done.out) == [
        f"FAIL database: {database}: file not found (run `skillpager migrate`)",
        f"FAIL rules: 1 error (first {cli.rules_dir}/team.yaml:1: must be a mapping with `lead:` "
        "and an `engineers:` mapping (id: details), not a list); run `skillpager check`",
        f"FAIL twilio: {twilio_fake.url} refused the account SID and auth token",
        f"FAIL slack: {slack_fake.url}/auth.test refused the bot token: invalid_auth",
        "FAIL public url: http://127.0.0.1:9/healthz: ConnectError All connection attempts "
        "failed (is `skillpager serve` running there?)",
    ]
    assert done.out.splitlines()[-1] == "5 checks failed"
    assert not database.exists()
