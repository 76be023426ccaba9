"""Readers' own language and time zone.

``language`` (a code such as ``ur``) and ``timezone`` (an IANA name such as
``Asia/Karachi``) are empty for a reader who never chose: the site's language and time zone
apply, resolved when a page or a digest is made, so a later change of the site's settings
reaches them too.

Revision ID: 0017
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("timezone")
        batch_op.drop_column("language")
