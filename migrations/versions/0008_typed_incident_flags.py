"""typed incident flags: the flat JSON bag becomes holds, storm figures and ladder marks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:30:00

Carries every incident's `flags` into the shape `app.incidents.model.IncidentFlags` reads
(`{"holds": {...}, "storm": {...}, "marks": {...}}`); the downgrade writes the flat keys back.
The conversion is written out here, not imported, so it stays what it was when this ran.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_incidents = sa.table("incidents", sa.column("id", sa.Integer), sa.column("flags", sa.JSON))
_CHUNK = 1000
# (flat key, part, typed key)
_MOVES = (
    ("suppressed", "holds", "suppressed"),
    ("suppressed_by", "holds", "suppressed_by"),
    ("maintenance", "holds", "maintenance_until"),
    ("silenced_until", "holds", "silenced_until"),
    ("flapping_keys", "holds", "flapping_keys"),
    ("flapping_until", "holds", "flapping_until"),
    ("events", "storm", "events"),
    ("keys", "storm", "keys"),
    ("recent", "storm", "recent"),
    ("rate_start", "storm", "rate_start"),
    ("rate_count", "storm", "rate_count"),
    ("storm_said", "storm", "told"),
    ("exhausted", "marks", "exhausted"),
    ("reminded_at", "marks", "reminded_at"),
    ("reminders", "marks", "reminders"),
)


def typed(flat: dict[str, Any]) -> dict[str, Any]:
    """The typed shape of one incident's flat flags."""
    parts: dict[str, dict[str, Any]] = {"holds": {}, "storm": {}, "marks": {}}
    for old, part, new in _MOVES:
        if flat.get(old) not in (None, False, [], ""):
            parts[part][new] = flat[old]
    if flat.get("storm"):
        parts["storm"]["peak_rate"] = int(flat.get("storm_rate") or 1)
    if flat.get("flapping") and "flapping_until" not in parts["holds"]:
        parts["holds"]["flapping_until"] = flat.get("flapping_until")
    return parts


def flat(parts: dict[str, Any]) -> dict[str, Any]:
    """The flat flags of one incident's typed ones (for the downgrade)."""
    found: dict[str, Any] = {}
    for old, part, new in _MOVES:
        value = (parts.get(part) or {}).get(new)
        if value not in (None, False, [], ""):
            found[old] = value
    peak = (parts.get("storm") or {}).get("peak_rate")
    if peak:
        found |= {"storm": True, "storm_rate": peak}
    if found.get("flapping_until"):
        found["flapping"] = True
    return found


def _convert(change: Any, *, already: Any) -> None:
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(
            sa.select(_incidents.c.id, _incidents.c.flags)
            .where(_incidents.c.id > last)
            .order_by(_incidents.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        for row_id, flags in rows:
            if not already(flags or {}):
                new = change(flags or {})
                conn.execute(
                    sa.update(_incidents).where(_incidents.c.id == row_id).values(flags=new)
                )
        last = rows[-1][0]


def _is_typed(flags: dict[str, Any]) -> bool:
    return bool(flags) and set(flags) <= {"holds", "storm", "marks"}


def upgrade() -> None:
    _convert(typed, already=_is_typed)


def downgrade() -> None:
    _convert(flat, already=lambda flags: not _is_typed(flags))
