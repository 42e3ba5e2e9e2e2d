"""A base for test SMS channels: what a channel answers beyond `send` (the Channel protocol)."""

from collections.abc import Collection
from datetime import datetime

from app.paging.base import Delivery, OutboundPage, cannot_restate


class SmsDouble:
    """An SMS channel's lookup (it finds nothing) and edit (an SMS cannot be edited)."""

    async def find_sent(
        self, address: str, since: datetime, text: str, exclude: Collection[str] = ()
    ) -> str | None:
        """No provider to ask: the page is not there."""
        return None

    async def restate(self, page: OutboundPage, sent: str) -> Delivery:
        """A sent SMS cannot be edited."""
        raise cannot_restate("sms")
