"""Page requests: what to write to the outbox, one per engineer and channel, with its text.

Pure: builds requests from an incident, the rules and the engineer's channel health; the
outbox (`app.paging.outbox.enqueue`) writes them, ignoring any a previous attempt already wrote,
thanks to the unique key.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
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
    decision: Decision | None  # None: pages about it say no "why you"
    runbook_url: str | None = None
    resolved_by: str | None = None


@dataclass(frozen=True, slots=True)
class PagePayload:
    """A page row's JSON payload: what the Slack message shows beyond the text, and how to send.

    A `secret` page's text is blanked once it has gone (sign-in codes); an update carries the
    incident's `state` and the `status` line its edited message shows.
    """

    title: str
    summary: str
    severity: str | None = None
    customer: str | None = None
    system: str | None = None
    why: str | None = None
    runbook_url: str | None = None
    incident_url: str | None = None
    secret: bool = False
    # A resolved note of a page the SMS throttle held: it joins the engineer's next bundle.
    missed: bool = False
    # An update (PageKind.UPDATE): the incident's state now, and the line saying who did what.
    state: str | None = None
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON: fields without a value are left out (readers default them)."""
        values = ((name, getattr(self, name)) for name in _PAYLOAD_FIELDS)
        return {name: value for name, value in values if value is not None and value is not False}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> "PagePayload":
        """A stored payload read back; keys the claim adds (`sent_text`) are not the request's."""
        data = stored or {}
        known = {name: data[name] for name in _PAYLOAD_FIELDS if name in data}
        return cls(**{"title": "", "summary": "", **known})


_PAYLOAD_FIELDS = tuple(f.name for f in fields(PagePayload))


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page to write to the outbox: to whom, where, what, and its place on the ladder.

    (incident_id, cycle, step, round, engineer, channel, kind) is the page's identity: the
    outbox writes a request whose page exists already as nothing, so a retried tick, a second
    replica or a restart never pages twice for one step. Pages about no incident (test pages,
    notices) have no incident and are never merged.
    """

    engineer: str
    channel: str
    address: str
    kind: PageKind
    text: str
    payload: PagePayload
    incident_id: int | None = None
    cycle: int = 0
    step: int = 0
    round: int = 0
    fallback_of: int | None = None  # the failed page this one falls back from

    def amended(self, **payload: Any) -> "PageRequest":
        """The same request with payload fields changed (a hand-over's why, an update's status)."""
        return replace(self, payload=replace(self.payload, **payload))


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


def page_requests(
    rules: Rules,
    incident: IncidentView,
    engineers: Sequence[str],
    *,
    kind: PageKind,
    position: tuple[int, int, int],
    public_url: str,
    unhealthy: Mapping[str, Collection[str]],
) -> list[PageRequest]:
    """Requests paging `engineers` about `incident` at (cycle, step, round)."""
    cycle, step, round_ = position
    system = rules.systems.get(incident.system or "")
    if system is not None and system.runbook:
        # The team's runbook for the system beats whatever link the monitor sent.
        incident = replace(incident, runbook_url=system.runbook)
    # Parsed once for all the requests: each page says why its engineer was chosen.
    paged_by = incident.decision if kind in (PageKind.PAGE, PageKind.REMINDER) else None
    requests = []
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
            requests.append(
                PageRequest(
                    engineer_id,
                    channel.value,
                    address,
                    kind,
                    text,
                    payload,
                    incident_id=incident.id,
                    cycle=cycle,
                    step=step,
                    round=round_,
                )
            )
    return requests


def direct_request(
    engineer: str,
    channel: str,
    address: str,
    *,
    kind: PageKind,
    text: str,
    title: str,
    secret: bool = False,
) -> PageRequest:
    """A request for a message about no incident (test page, sign-in code, notice)."""
    payload = PagePayload(title=title, summary=text, secret=secret)
    return PageRequest(engineer, channel, address, kind, text, payload)


def contact_checks(
    engineer_id: str, engineer: Engineer, channels: Sequence[Channel]
) -> list[PageRequest]:
    """Test pages proving each of an engineer's contacts works."""
    requests = []
    for channel in channels:
        address = address_of(engineer, channel)
        if address is not None:
            name = engineer.name or engineer_id
            text = contact_test_text(engineer_name=name, channel=channel.value)
            requests.append(
                direct_request(
                    engineer_id,
                    channel.value,
                    address,
                    kind=PageKind.TEST,
                    text=text,
                    title="skillpager test page",
                )
            )
    return requests


def fallbacks(page: Any, engineer: Engineer, tried: Collection[str]) -> list[PageRequest]:
    """The same page on the engineer's contacts not `tried` yet, after `page` (a row) failed."""
    payload = PagePayload.from_json(page.payload)
    critical = payload.severity == Severity.CRITICAL
    requests = []
    for channel in fallback_channels(engineer, tried=tried, critical=critical):
        address = address_of(engineer, channel)
        if address is None:
            continue
        requests.append(
            PageRequest(
                page.engineer,
                channel.value,
                address,
                PageKind(page.kind),
                page.text,
                payload,
                incident_id=page.incident_id,
                cycle=page.cycle,
                step=page.step,
                round=page.round,
                fallback_of=page.id,
            )
        )
    return requests


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
) -> tuple[str, PagePayload]:
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
    payload = PagePayload(
        title=incident.summary,
        summary=incident.summary,
        severity=incident.severity,
        customer=incident.customer,
        system=incident.system,
        why=why,
        runbook_url=incident.runbook_url,
        incident_url=link,
    )
    return text, payload
