"""Alertmanager API v2 reads and silences, at Alertmanager's paths and in its shapes, for amtool,
karma and Grafana's Alertmanager data source (an engineer token: Bearer or Basic password).

`GET /api/v2/alerts` lists every firing alert with the labels silences match on (its own plus
`monitor`, `severity`, `system`, `customer`); silences are `/api/silences`' with string ids.
`POST /api/v2/alerts` (monitors posting alerts) is a webhook: app.api.webhooks.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import ServicesDep
from app.api.rules import EngineerDep
from app.api.silences import silence_json
from app.bodies import json_body_openapi, read_json
from app.clock import as_utc
from app.errors import NotFound
from app.ids import MAX_ID
from app.incidents.model import IncidentFlags
from app.incidents.silences import (
    ActiveSilence,
    Matcher,
    PostableSilence,
    active_silences,
    create_posted,
    expire_and_release,
    silence_labels,
)
from app.ingest import alertmanager
from app.store.tables import Base, Silence

router = APIRouter(prefix="/api/v2", tags=["alertmanager"])
_alerts = Base.metadata.tables["alerts"]
_incidents = Base.metadata.tables["incidents"]
_silences = Base.metadata.tables["silences"]
RECEIVER = "skillpager"
# Alertmanager's API has no paging: the lists are bounded here instead. A storm of more firing
# alerts lists the newest MAX_ALERTS; expired silences stay listed as long as Alertmanager keeps
# them (its default `--data.retention`), and at most MAX_SILENCES silences are listed.
MAX_ALERTS = 10_000
MAX_SILENCES = 1_000
EXPIRED_KEPT = timedelta(hours=120)
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager's JSON says for "no time"
_STARTED_AT = datetime.now(UTC)
# What `amtool config show` and Grafana read as the configuration: one receiver, us.
_CONFIG = f"route:\n  receiver: {RECEIVER}\nreceivers:\n- name: {RECEIVER}\n"
_FILTERS = Query(default_factory=list, max_length=50)

# Alertmanager's matcher text: `name="value"`, `name=~"regex"`, `name!=value`, in braces or not.
_MATCHER = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^\s!=~"]+)\s*(=~|!~|!=|=)\s*(.*?)\s*')
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}


def parse_matcher(text: str) -> Matcher:
    """One `filter` matcher as amtool sends it; ValueError when it is not one."""
    found = _MATCHER.fullmatch(text.strip().removeprefix("{").removesuffix("}"))
    if found is None:
        raise ValueError(f"not a matcher: {text[:100]!r}")
    name, operator, value = found.groups()
    return Matcher(
        name=_unquoted(name),
        value=_unquoted(value),
        isRegex=operator in ("=~", "!~"),
        isEqual=operator in ("=", "=~"),
    )


def _unquoted(text: str) -> str:
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), text[1:-1])


def _bad_query(name: str, problem: object) -> RequestValidationError:
    """A 422 naming query parameter `name`, as FastAPI's own validation says it."""
    error = {"type": "value_error", "loc": ("query", name), "msg": str(problem), "input": None}
    return RequestValidationError([error])


def _matchers(filters: Sequence[str]) -> list[Matcher]:
    try:
        return [parse_matcher(text) for text in filters]
    except (ValueError, ValidationError) as exc:
        raise _bad_query("filter", exc) from None


def passes_filter(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Alertmanager's `filter` test: an empty value asks for the label's absence (`=""`) or
    presence (`!=""`), every other matcher must hold on a label that is there (`!=` on one that
    is not holds)."""
    for matcher in matchers:
        present = matcher.name in labels
        if matcher.value == "" and present != matcher.isEqual:
            continue
        if (matcher.isEqual and not present) or not matcher.matches(labels):
            return False
    return True


def _time(value: datetime | None) -> str:
    return as_utc(value).isoformat() if value is not None else _GO_ZERO_TIME


def _fingerprint(row: Any) -> str:
    """Alertmanager's fingerprint for its alerts (their key), the key itself for others'."""
    key: str = row.dedup_key
    return key.removeprefix(f"{alertmanager.SOURCE}:") if row.source == alertmanager.SOURCE else key


def gettable_alert(row: Any, silences: Sequence[ActiveSilence]) -> dict[str, Any]:
    """A firing alert row (joined with its incident's system, customer and flags) as
    Alertmanager's `gettableAlert`."""
    labels = silence_labels(
        row.labels,
        source=row.source,
        severity=row.severity,
        system=row.system,
        customer=row.customer,
    )
    holds = IncidentFlags.from_json(row.flags).holds
    silenced = [str(silence.id) for silence in silences if silence.matches(labels)]
    inhibited = [f"incident-{holds.suppressed_by}"] if holds.suppressed else []
    annotations = {"summary": row.summary}
    if row.runbook_url:
        annotations["runbook_url"] = row.runbook_url
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _time(row.started_at),
        "endsAt": _time(row.expires_at),
        "updatedAt": _time(row.last_seen_at),
        "generatorURL": row.source_url or "",
        "fingerprint": _fingerprint(row),
        "receivers": [{"name": RECEIVER}],
        "status": {
            "state": "suppressed" if silenced or inhibited else "active",
            "silencedBy": silenced,
            "inhibitedBy": inhibited,
        },
    }


def _firing(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    silences = active_silences(conn, now)
    rows = conn.execute(
        select(_alerts, _incidents.c.system, _incidents.c.customer, _incidents.c.flags)
        .outerjoin(_incidents, _alerts.c.incident_id == _incidents.c.id)
        .where(_alerts.c.status == "firing")
        .order_by(_alerts.c.id.desc())
        .limit(MAX_ALERTS)
    ).all()
    return [gettable_alert(row, silences) for row in reversed(rows)]


def _receiver_matches(pattern: str) -> bool:
    try:
        return re.fullmatch(pattern, RECEIVER) is not None
    except re.error as exc:
        raise _bad_query("receiver", exc) from None


def _shown(alert: dict[str, Any], *, active: bool, silenced: bool, inhibited: bool) -> bool:
    status = alert["status"]
    if not active and status["state"] == "active":
        return False
    if not silenced and status["silencedBy"]:
        return False
    return inhibited or not status["inhibitedBy"]


@router.get("/alerts")
async def get_alerts(
    services: ServicesDep,
    _who: EngineerDep,
    filter: Annotated[list[str], _FILTERS],
    active: bool = True,
    silenced: bool = True,
    inhibited: bool = True,
    unprocessed: bool = True,
    receiver: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Firing alerts as Alertmanager's `gettableAlerts`, filtered like Alertmanager does."""
    matchers = _matchers(filter)
    if receiver is not None and not _receiver_matches(receiver):
        return []
    async with services.engine.connect() as conn:
        alerts = await conn.run_sync(_firing, services.clock.now())
    return [
        alert
        for alert in alerts
        if _shown(alert, active=active, silenced=silenced, inhibited=inhibited)
        and passes_filter(matchers, alert["labels"])
    ]


def gettable_silence(silence: Silence, now: datetime) -> dict[str, Any]:
    """A silence as Alertmanager's `gettableSilence`: `/api/silences`' shape, a string id."""
    return {**silence_json(silence, now), "id": str(silence.id)}


def _in_order(silences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alertmanager's order: active by end, then pending by start, then expired, latest first."""

    def of(state: str) -> list[dict[str, Any]]:
        return [silence for silence in silences if silence["status"]["state"] == state]

    return [
        *sorted(of("active"), key=lambda silence: silence["endsAt"]),
        *sorted(of("pending"), key=lambda silence: silence["startsAt"]),
        *sorted(of("expired"), key=lambda silence: silence["endsAt"], reverse=True),
    ]


@router.get("/silences")
async def get_silences(
    services: ServicesDep,
    _who: EngineerDep,
    filter: Annotated[list[str], _FILTERS],
) -> list[dict[str, Any]]:
    """The silences (a bare array), with `status.state` active, pending or expired: those in
    force or to come, and those expired within EXPIRED_KEPT (at most MAX_SILENCES)."""
    matchers = _matchers(filter)
    now = services.clock.now()
    kept = now - EXPIRED_KEPT
    listed = (
        select(Silence)
        .where(Silence.ends_at > kept, or_(Silence.expired_at.is_(None), Silence.expired_at > kept))
        .order_by(Silence.id.desc())
        .limit(MAX_SILENCES)
    )
    async with AsyncSession(services.engine) as session:
        rows = list(await session.scalars(listed))
    found = [
        gettable_silence(silence, now)
        for silence in rows
        if passes_filter(matchers, {m["name"]: m["value"] for m in silence.matchers["matchers"]})
    ]
    return _in_order(found)


class _UpdatableSilence(PostableSilence):
    """`postableSilence` with its `id`: that silence is expired and a new one made."""

    id: str | None = None


def _silence_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        raise NotFound(f"no silence {text[:40]!r}")
    return int(text)


def _replace_silence(conn: Connection, *, body: _UpdatableSilence, now: datetime) -> int | None:
    if body.id and not expire_and_release(conn, silence_id=_silence_id(body.id), now=now):
        return None
    return create_posted(conn, body=body, now=now)


@router.post("/silences", openapi_extra=json_body_openapi(_UpdatableSilence))
async def post_silence(
    request: Request, services: ServicesDep, _who: EngineerDep
) -> dict[str, str]:
    """Create (or, with `id`, replace) a silence; answers `{"silenceID": "<id>"}`."""
    # Read here, after the token checked out (a model param would be read before it).
    body = await read_json(request, _UpdatableSilence, services.settings.max_form_bytes)
    now = services.clock.now()
    created = await services.db.transaction(partial(_replace_silence, body=body, now=now))
    if created is None:
        raise NotFound(f"no silence {body.id!r}")
    if body.id:
        services.escalation.kick()  # what the old silence held pages unless the new one holds
    return {"silenceID": str(created)}


@router.get("/silence/{silence_id}")
async def get_silence(silence_id: str, services: ServicesDep, _who: EngineerDep) -> dict[str, Any]:
    """One silence as `gettableSilence`."""
    wanted = _silence_id(silence_id)
    async with AsyncSession(services.engine) as session:
        found = await session.get(Silence, wanted)
    if found is None:
        raise NotFound(f"no silence {silence_id}")
    return gettable_silence(found, services.clock.now())


@router.delete("/silence/{silence_id}")
async def delete_silence(silence_id: str, services: ServicesDep, _who: EngineerDep) -> Response:
    """Expire a silence now (200, no body, as Alertmanager answers); what it held pages."""
    wanted, now = _silence_id(silence_id), services.clock.now()
    found = await services.db.transaction(partial(expire_and_release, silence_id=wanted, now=now))
    if not found:
        raise NotFound(f"no silence {silence_id}")
    services.escalation.kick()
    return Response(status_code=200)


@router.get("/status")
async def get_status(request: Request, _who: EngineerDep) -> dict[str, Any]:
    """Alertmanager's `alertmanagerStatus`: enough for amtool and Grafana's data source."""
    return {
        "cluster": {"name": RECEIVER, "peers": [], "status": "disabled"},
        "config": {"original": _CONFIG},
        "uptime": _STARTED_AT.isoformat(),
        "versionInfo": {
            "version": request.app.version,
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        },
    }
