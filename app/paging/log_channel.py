"""A channel that only logs: stands in for a provider that is not configured (dev, tests)."""

import logging
import uuid

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

    async def aclose(self) -> None:
        """Nothing to release."""
