"""`page-test ENGINEER`: the exact text per channel and where it went; with a provider, its id
and the delivery state as it arrives, polled for up to --wait (issue 19, point 4)."""

from tests.cli.support import Cli
from tests.fakes.slack_server import BOT_TOKEN, SlackFake
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioFake

_SMS_TEXT = "skillpager test page for Bo Lind via sms. No action needed."


def test_without_a_provider_it_says_nothing_was_sent(cli: Cli) -> None:
    cli.migrate()
    done = cli.run("page-test", "bo", "--channel", "sms")
    assert done.code == 0, done.err
    first, text = done.out.splitlines()
    assert first.startswith(
        "sms: no provider configured, nothing sent (shown here only) for ***3344"
    )
    assert text == f"  text: {_SMS_TEXT}"


def test_with_providers_it_follows_the_delivery(
    cli: Cli, twilio_fake: TwilioFake, slack_fake: SlackFake
) -> None:
    cli.migrate()
    cli.env |= {
        "SKILLPAGER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "SKILLPAGER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "SKILLPAGER_TWILIO_FROM": "+15550001111",
        "SKILLPAGER_TWILIO_API_URL": twilio_fake.url,
        "SKILLPAGER_SLACK_BOT_TOKEN": BOT_TOKEN,
        "SKILLPAGER_SLACK_API_URL": slack_fake.url,
    }
    done = cli.run("page-test", "bo", "--wait", "10s")
    assert done.code == 0, done.err
    [sms] = twilio_fake.messages
    assert sms.body == _SMS_TEXT
    [slack] = slack_fake.messages
    assert done.out.splitlines() == [
        f"sms: sent to ***3344 via Twilio SMS ({sms.sid})",
        f"  text: {_SMS_TEXT}",
        f"slack: sent to U02BO via Slack ({slack.channel}:{slack.ts})",
        "  text: skillpager test page for Bo Lind via slack. No action needed.",
        f"sms: delivered ({sms.sid})",
    ]


def test_delivery_still_pending_after_the_wait(cli: Cli, twilio_fake: TwilioFake) -> None:
    cli.migrate()
    twilio_fake.fetch_states["Messages"] = ["queued"]
    cli.env |= {
        "SKILLPAGER_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "SKILLPAGER_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "SKILLPAGER_TWILIO_FROM": "+15550001111",
        "SKILLPAGER_TWILIO_API_URL": twilio_fake.url,
    }
    done = cli.run("page-test", "bo", "--channel", "sms", "--wait", "2s")
    [sms] = twilio_fake.messages
    assert done.code == 1
    assert done.out.splitlines()[2:] == [
        f"sms: queued ({sms.sid})",
        f"sms: still queued after 2s ({sms.sid})",
    ]


def test_unknown_engineer_suggests_one(cli: Cli) -> None:
    cli.migrate()
    done = cli.run("page-test", "bob")
    assert (done.code, done.err) == (
        2,
        f"no engineer 'bob' in {cli.rules_dir} (did you mean 'bo'?)\n",
    )
