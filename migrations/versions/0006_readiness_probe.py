"""readiness probe: the heartbeat row `/readyz` rewrites to prove the store takes writes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create `readiness` (one row, written by every readiness check)."""
    table = op.create_table(
        "readiness",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readiness")),
    )
    # The row exists from the start: replicas checking at once only ever update it.
    op.bulk_insert(table, [{"id": 1, "beat_at": datetime(2026, 12, 3, tzinfo=UTC)}])


def downgrade() -> None:
    """Drop `readiness`."""
    op.drop_table("readiness")
