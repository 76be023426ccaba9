"""The content version: one row the database moves with every write the public pages show.

The web's page cache asked for a sum over every article's ``updated_at`` twice a second
per process: a full scan that grew with the archive. Now it reads one row, which triggers
move in the same transaction as every write of articles, their categories and the
editions' archived state (see :mod:`publisher.store.content_version`).

Revision ID: 0021
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from publisher.store.content_version import install, uninstall

revision = "0021"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_version")),
    )
    install(op.get_bind())


def downgrade() -> None:
    uninstall(op.get_bind())
    op.drop_table("content_version")
