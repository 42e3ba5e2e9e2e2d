"""redact credentials in stored raw events (data migration)

Raw events of PagerDuty (`routing_key`, which may be a webhook token) and of CloudWatch through
SNS (`UnsubscribeURL`, a confirmation's `Token` and `SubscribeURL`) were stored verbatim. This
rewrites those bodies the way the router now stores them (app.ingest.redact.stored_body: the
value replaced in place by "REDACTED", every other byte kept), 500 rows per statement batch.

Downgrade changes nothing: the blanked values are gone and cannot (and must not) come back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.ingest.redact import CREDENTIAL_FIELDS, stored_body

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500
_raw_events = sa.table(
    "raw_events",
    sa.column("id", sa.BigInteger()),
    sa.column("source", sa.String()),
    sa.column("body", sa.LargeBinary()),
)


def upgrade() -> None:
    """Blank the credentials of every stored body of a source that carries them."""
    conn = op.get_bind()
    after = 0
    while True:
        rows = conn.execute(
            sa.select(_raw_events.c.id, _raw_events.c.source, _raw_events.c.body)
            .where(_raw_events.c.source.in_(sorted(CREDENTIAL_FIELDS)), _raw_events.c.id > after)
            .order_by(_raw_events.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for row_id, source, body in rows:
            blanked = stored_body(source, bytes(body))
            if blanked != bytes(body):
                conn.execute(
                    sa.update(_raw_events).where(_raw_events.c.id == row_id).values(body=blanked)
                )
        after = rows[-1][0]


def downgrade() -> None:
    """Nothing to undo: redacted credentials are not restored."""
