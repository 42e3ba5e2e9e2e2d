"""LogChannel: one masked log line per page."""

import logging

import pytest

from app.paging.log_channel import LogChannel
from tests.paging.factories import ANNA_PHONE, make_page


async def test_logs_one_masked_line_and_returns_a_fresh_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = LogChannel(name="sms")
    caplog.set_level(logging.INFO, logger="app.paging.log_channel")

    first = await channel.send(make_page())
    second = await channel.send(make_page())

    assert channel.name == "sms"
    assert len(caplog.records) == 2
    line = caplog.records[0].getMessage()
    assert "***2233" in line
    assert ANNA_PHONE not in caplog.text
    assert "replica lag 47s" in line
    assert first.provider_id.startswith("log-")
    assert first.provider_id != second.provider_id
    assert first.status == "logged"
    await channel.aclose()


async def test_slack_member_ids_are_logged_as_is(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.paging.log_channel")

    await LogChannel().send(make_page(to="U01ANNA", channel="slack"))

    assert "to U01ANNA" in caplog.records[0].getMessage()
