"""Sample pages for channel tests."""

import dataclasses
from typing import Any

from app.core.alert import Severity
from app.paging.base import OutboundPage, PageKind

PUBLIC_URL = "https://pager.example.com"
FROM_NUMBER = "+15005550006"
ANNA_PHONE = "+46701112233"


_TYPICAL = OutboundPage(
    page_id=7,
    engineer_id="anna",
    channel="sms",
    to=ANNA_PHONE,
    kind=PageKind.PAGE,
    incident_id=42,
    text="[CRIT #42] acme payments-db: replica lag 47s. Reply 42a ack, 42e escalate.",
    title="[CRIT #42] acme payments-db: replica lag 47s",
    severity=Severity.CRITICAL,
    customer="acme",
    system="payments-db",
    summary="replica lag 47s on payments-db-replica-2",
    why="postgres 5 + payments 4; carl away",
    runbook_url="https://docs.example/acme/payments-db",
    incident_url=f"{PUBLIC_URL}/i/42",
)


def make_page(**changes: Any) -> OutboundPage:
    """A typical page for incident 42, with any field overridden (`dataclasses.replace`)."""
    return dataclasses.replace(_TYPICAL, **changes)
