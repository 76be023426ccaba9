"""Claims in O(batch): partial indexes holding only the rows a claim can take.

A claim used to walk ``deliveries`` from the lowest id (or sort the whole edition) and skip
every row already sent, so the cost of a claim grew with the edition's progress. Each index
here holds only the rows in one unfinished state, in the order a claim reads them:
pending rows by (edition, id), deferred rows by when they come due, claimed rows by when
their lease runs out. Sent, failed and suppressed rows are in none of them. The old
``(state, retry_at)`` index over every row is dropped: these cover what it served.

Revision ID: 0015
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

PARTIAL = (
    ("ix_deliveries_pending", ["edition_id", "id"], "state = 'pending'"),
    ("ix_deliveries_deferred", ["retry_at"], "state = 'deferred'"),
    ("ix_deliveries_claimed", ["lease_until"], "state = 'claimed'"),
)


def upgrade() -> None:
    op.drop_index("ix_deliveries_state", table_name="deliveries")
    for name, columns, where in PARTIAL:
        op.create_index(
            name,
            "deliveries",
            columns,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    for name, _columns, _where in PARTIAL:
        op.drop_index(name, table_name="deliveries")
    op.create_index("ix_deliveries_state", "deliveries", ["state", "retry_at"])
