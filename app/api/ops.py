"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from datetime import datetime
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import ServicesDep
from app.services import Services
from app.store.tables import Readiness

_PROBE_ROW = 1

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the store takes a write, the writer runs and a skills map is loaded.

    A database that answers reads but refuses writes (read-only, locked, disk full) cannot
    take one alert, so the write is what is checked; each failing check names why.
    """
    checks: dict[str, object] = {
        "database": await _store_writes(services),
        "writer": "ok" if services.writer.running else "not running",
    }
    holder = services.rules.holder
    last = holder.last_result
    checks["rules"] = {
        "loaded": bool(holder.version),
        "version": holder.version,
        "last_reload": "ok" if last.ok else "refused",
        "errors": list(last.errors),
    }
    failing = [name for name in ("database", "writer") if checks[name] != "ok"]
    if not holder.version:
        failing.append("rules")
    body: dict[str, object] = {"ready": not failing, "checks": checks}
    if failing:
        body["failing"] = failing
    return JSONResponse(body, 503 if failing else 200)


async def _store_writes(services: Services) -> str:
    """`ok` when a tiny transaction on the heartbeat row commits, else why not."""
    try:
        await services.db.transaction(partial(beat, now=services.clock.now()))
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        return f"cannot write: {type(exc).__name__}: {reason}"
    return "ok"


def beat(conn: Connection, *, now: datetime) -> None:
    """Rewrite the readiness heartbeat row (created by the first check)."""
    done = conn.execute(update(Readiness).where(Readiness.id == _PROBE_ROW).values(beat_at=now))
    if done.rowcount == 0:
        conn.execute(insert(Readiness).values(id=_PROBE_ROW, beat_at=now))


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    """Prometheus text exposition."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
