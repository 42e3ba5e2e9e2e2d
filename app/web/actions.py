"""Dashboard buttons: ack, resolve, escalate, snooze and hand over, through the one action seam."""

from collections.abc import Callable

from sqlalchemy.engine import Connection

from app.core.incident import ActionKind
from app.incidents.actions import IncidentAction, Outcome
from app.incidents.transitions import Who
from app.services import Services
from app.web.access import WebError

# The actions the incident page's buttons post (mute and notes have their own forms).
BUTTON_ACTIONS = {
    kind.value: kind
    for kind in (
        ActionKind.ACK,
        ActionKind.RESOLVE,
        ActionKind.ESCALATE,
        ActionKind.SNOOZE,
        ActionKind.HANDOVER,
    )
}


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
    kind = BUTTON_ACTIONS.get(action)
    if kind is None:
        raise WebError(404, f"No action {action!r}.")
    minutes = _minutes(form.get("minutes")) if kind is ActionKind.SNOOZE else 30
    note = form.get("note") or None
    wanted = IncidentAction(kind, incident_id, note=note, minutes=minutes, to=form.get("to", ""))
    return services.act(wanted, Who(engineer, "web"))
