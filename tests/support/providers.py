"""The service's settings that send its pages to the fake Twilio and Slack (tests/fakes).

`provider_settings` is for an app in this process (tests/support/app.py), `twilio_env` for a
`skillpager serve` subprocess (tests/support/server.py); the benchmarks use `twilio_env` too.
"""

from pathlib import Path

from app.config import Settings
from tests.fakes.slack_server import BOT_TOKEN, SlackFake
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from tests.support.app import app_settings

# The number in-process apps send from: inbound SMS tests post to it, outbox tests check it.
APP_FROM_NUMBER = "+15550001111"
# The number subprocess servers send from (Twilio's magic test number).
SERVER_FROM_NUMBER = "+15005550006"
SLACK_SIGNING_SECRET = "slack-signing-secret"


def provider_settings(
    database_url: str, twilio: TwilioFake, slack: SlackFake, *, rules_dir: Path, **extra: object
) -> Settings:
    """Test app settings with SMS, calls and Slack on the fakes and no SMS throttle."""
    values: dict[str, object] = {
        "rules_dir": rules_dir,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from": APP_FROM_NUMBER,
        "twilio_api_url": twilio.url,
        "slack_bot_token": BOT_TOKEN,
        "slack_api_url": slack.url,
        # Tests page one engineer several times a minute.
        "sms_min_interval": "0",
        "sms_per_15min": 0,
    }
    return app_settings(database_url, **(values | extra))


def twilio_env(fake: TwilioFake, *, throttle: bool = True, **extra: str) -> dict[str, str]:
    """SKILLPAGER_* variables that send a server's SMS and calls to `fake`, plus `extra`.

    `throttle=False` turns the per-engineer SMS limits off (for tests that page one engineer
    again within seconds).
    """
    env = {
        "SKILLPAGER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "SKILLPAGER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "SKILLPAGER_TWILIO_FROM": SERVER_FROM_NUMBER,
        "SKILLPAGER_TWILIO_API_URL": fake.url,
    }
    if not throttle:
        env |= {"SKILLPAGER_SMS_MIN_INTERVAL": "0", "SKILLPAGER_SMS_PER_15MIN": "0"}
    return env | extra
