"""Edition lifecycle: when sending started and finished, the final counts; a per-edition index.

The edition's ``status`` moves open -> sending -> sent | partial as its ledger rows are
claimed and settled (see ``store.deliveries``); these columns keep when and how it ended,
so the archive, ``/healthz`` and ``digest status`` read one row instead of the ledger.
The index on ``deliveries(edition_id, state)`` makes "is any row of this edition still
open?" (asked after every group commit) and the per-edition counts an index lookup.

Revision ID: 0012
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("sent_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("failed_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("suppressed_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_edition_state", ["edition_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_edition_state")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("suppressed_count")
        batch_op.drop_column("failed_count")
        batch_op.drop_column("sent_count")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("started_at")
