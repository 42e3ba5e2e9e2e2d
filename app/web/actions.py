"""Dashboard buttons: ack, resolve, escalate, snooze and hand over, through the one service."""

from collections.abc import Callable
from functools import partial

from sqlalchemy.engine import Connection

from app.escalation import service
from app.escalation.service import Actor, Outcome
from app.services import Services
from app.web.access import WebError

ACTIONS = ("ack", "resolve", "escalate", "snooze", "handover")


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
    actor = Actor(engineer=engineer, channel="web")
    now, rules = services.clock.now(), services.rules.holder.rules
    note = form.get("note") or None
    public_url = services.settings.public_url
    if action == "ack":
        return partial(
            service.acknowledge,
            incident_id=incident_id,
            actor=actor,
            rules=rules,
            now=now,
            note=note,
        )
    if action == "resolve":
        return partial(
            service.resolve,
            incident_id=incident_id,
            actor=actor,
            rules=rules,
            now=now,
            public_url=public_url,
            note=note,
        )
    if action == "escalate":
        return partial(service.escalate, incident_id=incident_id, actor=actor, now=now, note=note)
    if action == "snooze":
        minutes = _minutes(form.get("minutes"))
        return partial(
            service.snooze,
            incident_id=incident_id,
            actor=actor,
            minutes=minutes,
            now=now,
            note=note,
        )
    if action == "handover":
        return partial(
            service.hand_over,
            incident_id=incident_id,
            actor=actor,
            to=form.get("to", ""),
            rules=rules,
            now=now,
            public_url=public_url,
            note=note,
        )
    raise WebError(404, f"No action {action!r}.")
