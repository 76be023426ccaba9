"""The language an article is written in.

``language`` (a code such as ``ur`` or ``en-GB``) is empty for an article that names none:
it is then in the site's language. A reader's digest lists the articles in the reader's
own language first.

Revision ID: 0019
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("language")
