"""A channel that only logs: stands in for a provider that is not configured (dev, tests)."""

import logging
import uuid
from collections.abc import Collection
from datetime import datetime

from app.paging.base import Delivery, OutboundPage, mask_phone

_log = logging.getLogger(__name__)


class LogChannel:
    """Logs one line per page and reports it delivered; `name` is the channel it stands in for."""

    def __init__(self, name: str = "log") -> None:
        self.name = name

    async def send(self, page: OutboundPage) -> Delivery:
        """Log the page (phone masked) and return a Delivery with a fresh `log-…` id."""
        provider_id = f"log-{uuid.uuid4().hex}"
        # Slack member ids are not personal data; anything else may be a phone number.
        to = page.to if page.to[:1] in ("U", "W") else mask_phone(page.to)
        _log.info(
            "page %s (%s, incident %s) for %s via %s to %s: %s",
            page.page_id,
            page.kind.value,
            page.incident_id,
            page.engineer_id,
            self.name,
            to,
            page.text,
            extra={
                "page_id": page.page_id,
                "incident_id": page.incident_id,
                "provider_id": provider_id,
            },
        )
        return Delivery(provider_id=provider_id, status="logged")

    async def find_sent(
        self, address: str, since: datetime, text: str, exclude: Collection[str] = ()
    ) -> str | None:
        """Nothing to look up: a log line is not a message anyone holds."""
        return None

    async def restate(self, page: OutboundPage, sent: str) -> Delivery:
        """Log the update of the message `sent`."""
        _log.info(
            "update of %s (incident %s) for %s via %s: %s",
            sent,
            page.incident_id,
            page.engineer_id,
            self.name,
            page.status,
            extra={"page_id": page.page_id, "incident_id": page.incident_id},
        )
        return Delivery(provider_id=sent, status="updated")

    async def aclose(self) -> None:
        """Nothing to release."""
