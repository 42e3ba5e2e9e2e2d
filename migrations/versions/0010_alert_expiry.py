"""alert expiry: a firing Alertmanager API v2 alert resolves at its `endsAt` unless re-sent

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_alerts_expires_at",
        "alerts",
        ["expires_at"],
        sqlite_where=sa.text("expires_at IS NOT NULL"),
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_expires_at", table_name="alerts")
    op.drop_column("alerts", "expires_at")
