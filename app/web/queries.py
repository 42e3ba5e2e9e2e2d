"""The dashboard's reads, scoped to the viewer in the query itself.

Every function takes the viewer's `Principal`: customers only ever load their own customer's
incidents, and the fields only the team may see (routing reasons, pages, raw payloads, internal
notes, runbooks) are never loaded for them, so no template can leak them.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import as_utc
from app.core.incident import OPEN_STATES
from app.projection import (
    LIST_COLUMNS,
    Entry,
    IncidentView,
    change_entry,
    entries,
    incident_for,
    list_view,
    sees_everything,
    timeline_query,
    visible_incidents,
)
from app.routing.rules import Rules
from app.store import change_events
from app.store.tables import (
    Alert,
    AlertRawEvent,
    Incident,
    Page,
    RawEvent,
)
from app.store.tokens import Principal

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_PAGED_KINDS = ("page", "bundle", "reminder")
# The incident page shows this many alert groups at a time ("show more" pages on).
GROUPS_SHOWN = 20
# A raw payload is shown one at a time, cut at this many bytes (with a notice).
RAW_SHOWN_BYTES = 20_000


@dataclass(frozen=True, slots=True)
class Paged:
    """One engineer paged in the incident's current cycle (team only)."""

    engineer: str
    channel: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Card:
    """An incident as a list shows it; team-only fields are empty for customers."""

    incident: IncidentView  # already projected for the viewer
    badges: tuple[str, ...]
    runbook: str | None = None
    paged: tuple[Paged, ...] = ()


@dataclass(slots=True)
class Detail:
    """Everything the incident page shows to this viewer."""

    card: Card
    timeline: list[Entry]
    reasons: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] | None = None


def is_team(principal: Principal) -> bool:
    """True for an engineer."""
    return sees_everything(principal)


def visible(principal: Principal) -> Select[Incident]:
    """Incidents this principal may see: all for the team, their own for a customer."""
    return visible_incidents(principal)


def badges(incident: IncidentView) -> tuple[str, ...]:
    """The flags worth a badge: storm, suppressed, silenced, maintenance, unrouted, exhausted."""
    flags = incident.flags
    marked = {
        "storm": flags.storm.storm,
        "suppressed": flags.holds.suppressed,
        "maintenance": flags.holds.maintenance_until is not None,
        "exhausted": flags.marks.exhausted,
        "silenced": flags.holds.silenced_until is not None,
    }
    shown = [name for name, on in marked.items() if on]
    if incident.unrouted:
        shown.append("unrouted")
    return tuple(shown)


async def open_count(session: AsyncSession, principal: Principal) -> int:
    """How many open incidents this principal sees."""
    query = visible(principal).where(Incident.state.in_(OPEN_STATES)).subquery()
    return int(await session.scalar(select(func.count()).select_from(query)) or 0)


async def open_cards(
    session: AsyncSession, principal: Principal, rules: Rules, *, paged_for: int | None = None
) -> list[Card]:
    """Open incidents, most severe and oldest first; who was paged for the first `paged_for`."""
    query = visible(principal).where(Incident.state.in_(OPEN_STATES))
    rows = await session.execute(query.with_only_columns(*LIST_COLUMNS))
    found = [list_view(row, principal) for row in rows]
    found.sort(key=lambda i: (SEVERITY_ORDER.get(i.severity, 3), as_utc(i.opened_at)))
    paged = {}
    if is_team(principal):
        which = Incident.state.in_(OPEN_STATES)
        if paged_for is not None and paged_for < len(found):
            which = Incident.id.in_([incident.id for incident in found[:paged_for]])
        paged = await _paged(session, which)
    return [_card(i, principal, rules, paged.get(i.id, ())) for i in found]


def _card(
    incident: IncidentView, principal: Principal, rules: Rules, paged: tuple[Paged, ...]
) -> Card:
    if not is_team(principal):
        return Card(incident, badges(incident))
    system = rules.systems.get(incident.system or "")
    return Card(incident, badges(incident), system.runbook if system else None, paged)


async def _paged(
    session: AsyncSession, incidents: ColumnElement[bool]
) -> dict[int, tuple[Paged, ...]]:
    # Rows joined to their incidents (not hundreds of ids as parameters), not Page objects.
    rows = await session.execute(
        select(
            Incident.id,
            Page.engineer,
            Page.channel,
            Page.status,
            func.coalesce(Page.sent_at, Page.created_at),
        )
        .join(Incident, Incident.id == Page.incident_id)
        .where(incidents, Page.cycle == Incident.cycle, Page.kind.in_(_PAGED_KINDS))
        .order_by(Page.id)
    )
    paged: dict[int, list[Paged]] = {}
    for incident_id, engineer, channel, status, at in rows:
        paged.setdefault(incident_id, []).append(Paged(engineer, channel, status, as_utc(at)))
    return {key: tuple(value) for key, value in paged.items()}


async def find(session: AsyncSession, principal: Principal, incident_id: int) -> Incident | None:
    """One incident, if this principal may see it."""
    return await session.scalar(visible(principal).where(Incident.id == incident_id))


async def detail(
    session: AsyncSession, principal: Principal, incident_id: int, rules: Rules
) -> Detail | None:
    """The incident's state, timeline and (team) routing, or None when it does not exist for
    this principal. Its alerts are read apart (`alert_groups`), a page at a time."""
    incident = await find(session, principal, incident_id)
    if incident is None:
        return None
    paged = await _paged(session, Incident.id == incident.id) if is_team(principal) else {}
    view = incident_for(incident, principal)
    found = Detail(_card(view, principal, rules, paged.get(incident.id, ())), [])
    found.timeline = await timeline(session, principal, incident)
    if is_team(principal):
        found.decision = dict(incident.decision or {})
        found.reasons = list(found.decision.get("reasons") or [])
    return found


async def timeline(session: AsyncSession, principal: Principal, incident: Incident) -> list[Entry]:
    """Events, the changes of its system around its opening (and for the team every page and
    its delivery status), oldest first."""
    found = entries(await session.execute(timeline_query(incident.id, principal)), principal)
    if incident.system is not None:
        near = change_events.near(incident.system, as_utc(incident.opened_at))
        found += [change_entry(change, principal) for change in await session.scalars(near)]
    if is_team(principal):
        pages = await session.scalars(select(Page).where(Page.incident_id == incident.id))
        found += [_page_entry(page) for page in pages]
    found.sort(key=lambda entry: entry.at)
    return found


def _page_entry(page: Page) -> Entry:
    status = page.status + (f" ({page.last_error})" if page.last_error else "")
    if page.delivered_at:
        status += f", delivered {as_utc(page.delivered_at):%H:%M:%S}"
    text = f"{page.kind} to {page.engineer} (cycle {page.cycle}, step {page.step}): {status}"
    return Entry(as_utc(page.created_at), "page", None, page.channel, text)


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """The alerts of an incident that share an alertname (else a summary), and the newest."""

    name: str
    alerts: int
    firing: int
    seen: int  # notifications received, over all the group's alerts
    latest: Alert


@dataclass(frozen=True, slots=True)
class AlertGroups:
    """One page of an incident's alert groups, largest first."""

    groups: list[AlertGroup]
    total_groups: int
    total_alerts: int
    offset: int
    next_offset: int | None


def _group_name() -> ColumnElement[str]:
    return func.coalesce(Alert.labels["alertname"].as_string(), Alert.summary)


async def alert_groups(session: AsyncSession, incident_id: int, *, offset: int) -> AlertGroups:
    """`GROUPS_SHOWN` groups of the incident's alerts from `offset`: counted in the database,
    so an incident of 20,000 alerts costs a page of rows, not 20,000 objects."""
    name = _group_name().label("name")
    grouped = (
        select(
            name,
            func.count().label("alerts"),
            func.sum(case((Alert.status == "firing", 1), else_=0)).label("firing"),
            func.sum(Alert.count).label("seen"),
            func.max(Alert.id).label("latest"),
        )
        .where(Alert.incident_id == incident_id)
        .group_by(name)
    )
    counted = grouped.subquery()
    total = select(func.count(), func.coalesce(func.sum(counted.c.alerts), 0))
    totals = (await session.execute(total.select_from(counted))).one()
    rows = (
        await session.execute(
            grouped.order_by(func.count().desc(), func.max(Alert.id).desc())
            .offset(offset)
            .limit(GROUPS_SHOWN)
        )
    ).all()
    latest = {
        alert.id: alert
        for alert in await session.scalars(
            select(Alert).where(Alert.id.in_([row.latest for row in rows]))
        )
    }
    groups = [
        AlertGroup(row.name, row.alerts, int(row.firing), int(row.seen), latest[row.latest])
        for row in rows
    ]
    after = offset + len(groups)
    more = after if after < totals[0] else None
    return AlertGroups(groups, int(totals[0]), int(totals[1]), offset, more)


@dataclass(frozen=True, slots=True)
class RawShown:
    """One raw payload of an incident, cut at `RAW_SHOWN_BYTES`."""

    id: int
    source: str
    received_at: datetime
    size: int
    text: str
    older: int | None  # the next older payload's id (same incident, same alert filter)

    @property
    def truncated(self) -> bool:
        """Whether `text` is only the start of the payload."""
        return self.size > RAW_SHOWN_BYTES


async def raw_payload(
    session: AsyncSession, incident_id: int, *, alert_id: int | None, at_or_before: int | None
) -> RawShown | None:
    """The newest raw payload of the incident (or of one of its alerts) at or before the id
    `at_or_before`; only its first `RAW_SHOWN_BYTES` leave the database."""
    linked = select(AlertRawEvent.raw_event_id).join(Alert, Alert.id == AlertRawEvent.alert_id)
    linked = linked.where(Alert.incident_id == incident_id)
    if alert_id is not None:
        linked = linked.where(Alert.id == alert_id)
    query = select(RawEvent.id).where(RawEvent.id.in_(linked))
    if at_or_before is not None:
        query = query.where(RawEvent.id <= at_or_before)
    found = list(await session.scalars(query.order_by(RawEvent.id.desc()).limit(2)))
    if not found:
        return None
    head = func.substr(RawEvent.body, 1, RAW_SHOWN_BYTES, type_=LargeBinary)
    row = (
        await session.execute(
            select(RawEvent.source, RawEvent.received_at, func.length(RawEvent.body), head).where(
                RawEvent.id == found[0]
            )
        )
    ).one()
    text = bytes(row[3] or b"").decode("utf-8", "replace")
    older = found[1] if len(found) > 1 else None
    return RawShown(found[0], row[0], as_utc(row[1]), int(row[2] or 0), text, older)
