"""Local delivery: each ledger row keeps its reader's wave.

``wave_at`` is the moment the row's reader's copy may go out (the first ``daily_at`` on
their clock at or after the edition's close), written with the row. ``retry_at`` holds the
same moment until the row is first claimed and is then reused for retries, so the wave is
kept apart: `digest status` counts each wave's sent and pending rows from it. NULL when
local delivery is off.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wave_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("wave_at")
