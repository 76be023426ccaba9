"""Articles remember the source they came from (``source_key``), their identity without a guid.

A file's path relative to the import root names one story for as long as the file lives;
its title does not (two stories may share a title, and titles get edited). Rows imported
before this column existed keep NULL and are adopted by the first source that matches them
by the old rule (see ``ArticleRepository``).

Revision ID: 0013
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_key", sa.String(length=1000), nullable=True))
        batch_op.create_index("ix_articles_source_key", ["source_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_source_key")
        batch_op.drop_column("source_key")
