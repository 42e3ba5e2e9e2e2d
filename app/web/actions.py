"""Dashboard buttons: ack, resolve, escalate, snooze and hand over, through the one service."""

from collections.abc import Callable
from functools import partial

from sqlalchemy.engine import Connection

from app.escalation import service
from app.escalation.service import ACTIONS, Actor, Outcome
from app.services import Services
from app.web.access import WebError


def _minutes(value: str | None) -> int:
    try:
        minutes = int(value or "30")
    except ValueError:
        raise WebError(422, "Snooze minutes must be a number.") from None
    if not 1 <= minutes <= 7 * 24 * 60:
        raise WebError(422, "Snooze for 1 minute to 7 days.")
    return minutes


def unit_of_work(
    services: Services, action: str, incident_id: int, engineer: str, form: dict[str, str]
) -> Callable[[Connection], Outcome]:
    """The transaction body of one dashboard action."""
    if action not in ACTIONS:
        raise WebError(404, f"No action {action!r}.")
    return partial(
        service.perform,
        action=action,
        incident_id=incident_id,
        actor=Actor(engineer=engineer, channel="web"),
        rules=services.rules.holder.rules,
        now=services.clock.now(),
        public_url=services.settings.public_url,
        note=form.get("note") or None,
        minutes=_minutes(form.get("minutes")) if action == "snooze" else 30,
        to=form.get("to", ""),
    )
