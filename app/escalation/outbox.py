"""Page rows for the outbox: one per engineer and channel, with the text each channel sends.

Pure: builds rows from an incident, the rules and the time; the tick inserts them (ignoring
any a previous attempt already wrote, thanks to the unique key).
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from app.core.alert import Severity
from app.paging.base import PageKind
from app.paging.text import contact_test_text, resolved_text, sms_text
from app.routing.decision import Decision, reason_for
from app.routing.rules import Rules
from app.routing.schema import Channel, Engineer


@dataclass(frozen=True, slots=True)
class IncidentView:
    """What a page says about its incident."""

    id: int
    severity: str
    customer: str | None
    system: str | None
    summary: str
    decision: dict[str, Any]
    runbook_url: str | None = None
    resolved_by: str | None = None


def address_of(engineer: Engineer, channel: Channel) -> str | None:
    """The engineer's contact for a channel: phone for sms/voice, member id for Slack."""
    return engineer.slack if channel is Channel.SLACK else engineer.phone


def channels_for(engineer: Engineer, unhealthy: Collection[str]) -> list[Channel]:
    """The channels a page uses at once: the listed healthy ones, else the healthy fallbacks."""
    listed = [c for c in engineer.paging_channels if c.value not in unhealthy]
    if listed:
        return listed
    return fallback_channels(engineer, tried=set(unhealthy))


def fallback_channels(
    engineer: Engineer, *, tried: Collection[str], critical: bool = False
) -> list[Channel]:
    """Contacts the engineer has but does not list in `channels`, not tried yet; a voice call
    is the last resort for critical incidents."""
    candidates = [Channel.SMS, Channel.SLACK, *([Channel.VOICE] if critical else [])]
    return [
        c
        for c in candidates
        if c not in engineer.paging_channels
        and c.value not in tried
        and address_of(engineer, c) is not None
    ]


def page_rows(
    rules: Rules,
    incident: IncidentView,
    engineers: Sequence[str],
    *,
    kind: PageKind,
    position: tuple[int, int, int],
    now: datetime,
    public_url: str,
    unhealthy: Mapping[str, Collection[str]],
) -> list[dict[str, Any]]:
    """Outbox rows paging `engineers` about `incident` at (cycle, step, round)."""
    cycle, step, round_ = position
    system = rules.systems.get(incident.system or "")
    if system is not None and system.runbook:
        # The team's runbook for the system beats whatever link the monitor sent.
        incident = replace(incident, runbook_url=system.runbook)
    # Parsed once for all the rows: each page says why its engineer was chosen.
    paged_by = _decision(incident) if kind in (PageKind.PAGE, PageKind.REMINDER) else None
    rows = []
    for engineer_id in engineers:
        engineer = rules.engineers.get(engineer_id)
        if engineer is None:
            continue  # removed from the map since the decision was taken
        why = reason_for(paged_by, engineer_id) if paged_by is not None else None
        text, payload = _content(incident, engineer_id, engineer, kind, public_url, why)
        for channel in channels_for(engineer, unhealthy.get(engineer_id, ())):
            address = address_of(engineer, channel)
            if address is None:
                continue
            rows.append(
                {
                    "incident_id": incident.id,
                    "engineer": engineer_id,
                    "channel": channel.value,
                    "address": address,
                    "kind": kind.value,
                    "cycle": cycle,
                    "step": step,
                    "round": round_,
                    "text": text,
                    "payload": dict(payload),  # its own: callers amend one row's
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    return rows


def direct_row(
    engineer: str,
    channel: str,
    address: str,
    *,
    kind: PageKind,
    text: str,
    title: str,
    now: datetime,
    secret: bool = False,
) -> dict[str, Any]:
    """An outbox row for a message about no incident (test page, sign-in code, notice)."""
    payload: dict[str, Any] = {"title": title, "summary": text}
    if secret:
        payload["secret"] = True  # the sender blanks the text once it has gone
    return {
        "incident_id": None,
        "engineer": engineer,
        "channel": channel,
        "address": address,
        "kind": kind.value,
        "cycle": 0,
        "step": 0,
        "round": 0,
        "text": text,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def contact_check_rows(
    engineer_id: str, engineer: Engineer, channels: Sequence[Channel], now: datetime
) -> list[dict[str, Any]]:
    """Test-page rows proving each of an engineer's contacts works."""
    rows = []
    for channel in channels:
        address = address_of(engineer, channel)
        if address is not None:
            name = engineer.name or engineer_id
            text = contact_test_text(engineer_name=name, channel=channel.value)
            rows.append(
                direct_row(
                    engineer_id,
                    channel.value,
                    address,
                    kind=PageKind.TEST,
                    text=text,
                    title="skillpager test page",
                    now=now,
                )
            )
    return rows


def incident_link(public_url: str, incident_id: int) -> str:
    """The short link SMS carry."""
    return f"{public_url}/i/{incident_id}"


def _content(
    incident: IncidentView,
    engineer_id: str,
    engineer: Engineer,
    kind: PageKind,
    public_url: str,
    why: str | None,
) -> tuple[str, dict[str, Any]]:
    link = incident_link(public_url, incident.id)
    severity = Severity(incident.severity)
    if kind is PageKind.RESOLVED_NOTE:
        text = resolved_text(
            incident_id=incident.id,
            customer=incident.customer,
            system=incident.system,
            summary=incident.summary,
            link=link,
            resolved_by=incident.resolved_by,
        )
    elif kind is PageKind.TEST:
        text = contact_test_text(engineer_name=engineer.name or engineer_id, channel="sms")
    else:
        text = sms_text(
            incident_id=incident.id,
            severity=severity,
            customer=incident.customer,
            system=incident.system,
            summary=incident.summary,
            why=why,
            link=link,
            reminder=kind is PageKind.REMINDER,
        )
    payload = {
        "title": incident.summary,
        "severity": incident.severity,
        "customer": incident.customer,
        "system": incident.system,
        "summary": incident.summary,
        "why": why,
        "runbook_url": incident.runbook_url,
        "incident_url": link,
    }
    return text, payload


def _decision(incident: IncidentView) -> Decision | None:
    return Decision.model_validate(incident.decision) if incident.decision else None
