"""The incident's vocabulary: its states, the kinds of its timeline events, what people do to it.

Every layer speaks these types (the store, the engine, the channels' reply grammars, the API and
the dashboard), so a state or an action is spelled once.
"""

from enum import StrEnum


class IncidentState(StrEnum):
    """Where an incident stands; every state but RESOLVED is open."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


OPEN_STATES = (IncidentState.TRIGGERED, IncidentState.ACKNOWLEDGED, IncidentState.SNOOZED)


class EventKind(StrEnum):
    """The kinds of timeline events (the `kind` column of `incident_events`)."""

    OPENED = "opened"
    REOPENED = "reopened"
    PAGED = "paged"
    REROUTED = "rerouted"
    ACKNOWLEDGED = "acknowledged"
    REMINDER = "reminder"
    REMINDER_CONFIRMED = "reminder_confirmed"
    RETRIGGERED = "retriggered"
    ESCALATED = "escalated"
    SNOOZED = "snoozed"
    HANDOVER = "handover"
    MUTED = "muted"
    RESOLVED = "resolved"
    NOTE = "note"
    # Holds: why an incident is quiet, and when it stops being.
    SUPPRESSED = "suppressed"
    RELEASED = "released"
    MAINTENANCE = "maintenance"
    MAINTENANCE_OVER = "maintenance_over"
    SILENCED = "silenced"
    SILENCE_OVER = "silence_over"
    FLAPPING = "flapping"
    STABLE = "stable"
    STORM = "storm"
    # What paging reported back.
    FALLBACK = "fallback"
    PAGE_FAILED = "page_failed"
    PAGE_HELD = "page_held"


class ActionKind(StrEnum):
    """What a person (or a monitor) does to an incident, whichever way they reach it."""

    ACK = "ack"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    SNOOZE = "snooze"
    HANDOVER = "handover"
    MUTE = "mute"
    NOTE = "note"
