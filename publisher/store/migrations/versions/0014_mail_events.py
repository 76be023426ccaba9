"""Mail events: bounces, complaints, unsubscribes and the rest, each stored once by key.

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("diagnostic", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_events")),
        sa.UniqueConstraint("key", name=op.f("uq_mail_events_key")),
    )
    with op.batch_alter_table("mail_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_events_subscriber", ["subscriber_id", "received_at"], unique=False
        )
        batch_op.create_index("ix_mail_events_edition", ["edition_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_events", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_events_edition")
        batch_op.drop_index("ix_mail_events_subscriber")
    op.drop_table("mail_events")
