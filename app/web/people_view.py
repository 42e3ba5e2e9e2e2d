"""Who is reachable now: each engineer's status (in hours, off hours, away) and skills, pure."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from app.clock import as_utc
from app.core.incident import IncidentState
from app.routing.rules import Rules
from app.routing.timespec import away_until, local_label, minute_of_week
from app.store.tables import EngineerState
from app.web.queries import Card


@dataclass(slots=True)
class Person:
    """One engineer as the People page shows them (never their phone number)."""

    id: str
    name: str
    status: str  # "in hours" | "off hours" | "away"
    away_until: datetime | date | None
    runtime_away: datetime | None
    local: str
    channels: tuple[str, ...]
    problems: list[str] = field(default_factory=list)
    incidents: list[Card] = field(default_factory=list)


def person_status(
    rules: Rules, engineer: str, now: datetime, runtime_away: datetime | None
) -> tuple[str, datetime | date | None, str]:
    """(status, away until, local clock label) of one engineer at `now`."""
    schedule = rules.compiled.schedules[engineer]
    local = now.astimezone(schedule.tz)
    label = local_label(local)
    if runtime_away is not None and runtime_away > now:
        return "away", runtime_away, label
    until = away_until(schedule.away, local.date()) if schedule.away else None
    if until is not None:
        return "away", until, label
    present = schedule.mask is None or schedule.mask[minute_of_week(local)] == 1
    return ("in hours" if present else "off hours"), None, label


def people(
    rules: Rules, now: datetime, states: Mapping[str, EngineerState], cards: Sequence[Card]
) -> list[Person]:
    """Every engineer with status, channel health and their open incidents (acked or paged)."""
    found = []
    for engineer_id, engineer in rules.engineers.items():
        state = states.get(engineer_id)
        runtime = as_utc(state.away_until) if state and state.away_until else None
        status, until, label = person_status(rules, engineer_id, now, runtime)
        person = Person(
            engineer_id,
            engineer.name or engineer_id,
            status,
            until,
            runtime if runtime is not None and runtime > now else None,
            label,
            tuple(channel.value for channel in engineer.paging_channels),
        )
        person.problems = _problems(state)
        person.incidents = [card for card in cards if _involves(card, engineer_id)]
        found.append(person)
    return found


def _problems(state: EngineerState | None) -> list[str]:
    if state is None:
        return []
    problems = [
        f"{channel} failing: {reason}"
        for channel, reason in (
            ("sms", state.sms_unhealthy),
            ("voice", state.voice_unhealthy),
            ("slack", state.slack_unhealthy),
        )
        if reason
    ]
    if state.sms_opted_out:
        problems.append("sms off (replied STOP)")
    return problems


def _involves(card: Card, engineer: str) -> bool:
    if card.incident.acknowledged_by == engineer:
        return True
    return card.incident.state == IncidentState.TRIGGERED and any(
        p.engineer == engineer for p in card.paged
    )


def by_skill(rules: Rules, people_: Sequence[Person]) -> list[tuple[str, list[tuple[Person, int]]]]:
    """Skill → engineers with it (highest level first), skills alphabetical."""
    status = {person.id: person for person in people_}
    skills: dict[str, list[tuple[Person, int]]] = {}
    for engineer_id, engineer in rules.engineers.items():
        for skill, level in engineer.skills.items():
            skills.setdefault(skill, []).append((status[engineer_id], level))
    return [
        (skill, sorted(holders, key=lambda pair: (-pair[1], pair[0].id)))
        for skill, holders in sorted(skills.items())
    ]
