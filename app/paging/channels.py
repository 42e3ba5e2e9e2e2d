"""Build the channels from settings: real providers when configured, the log otherwise."""

import logging

from app.config import Settings
from app.paging.base import Channel
from app.paging.log_channel import LogChannel
from app.paging.slack import SlackChannel
from app.paging.sms_twilio import TwilioSms
from app.paging.voice_twilio import TwilioVoice

log = logging.getLogger(__name__)


def build_channels(settings: Settings) -> dict[str, Channel]:
    """`sms`, `slack` and `voice`, each a provider client or, unconfigured, the log channel."""
    channels: dict[str, Channel] = {
        "sms": LogChannel("sms"),
        "slack": LogChannel("slack"),
        "voice": LogChannel("voice"),
    }
    twilio_ready = settings.twilio_account_sid and settings.twilio_auth_token
    if twilio_ready and settings.twilio_from and settings.twilio_auth_token:
        channels["sms"] = TwilioSms(
            account_sid=settings.twilio_account_sid or "",
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_=settings.twilio_from,
            public_url=settings.public_url,
            api_url=settings.twilio_api_url,
            timeout=settings.provider_timeout_s,
        )
        if not settings.twilio_from.startswith("MG"):  # a messaging service cannot call
            channels["voice"] = TwilioVoice(
                account_sid=settings.twilio_account_sid or "",
                auth_token=settings.twilio_auth_token.get_secret_value(),
                from_=settings.twilio_from,
                public_url=settings.public_url,
                api_url=settings.twilio_api_url,
                timeout=settings.provider_timeout_s,
            )
    if settings.slack_bot_token is not None:
        channels["slack"] = SlackChannel(
            bot_token=settings.slack_bot_token.get_secret_value(),
            api_url=settings.slack_api_url,
            timeout=settings.provider_timeout_s,
        )
    unset = [name for name, channel in channels.items() if isinstance(channel, LogChannel)]
    if unset:
        log.info("no provider for %s: those pages go to the log and dashboard", ", ".join(unset))
    return channels
