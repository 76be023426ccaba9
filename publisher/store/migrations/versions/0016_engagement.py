"""Engagement counts per edition x link, opt-in per-reader clicks, dashboard users, paused sends.

``edition_links`` holds each tracked link of an edition (articles, view in browser, category
pages, home, and the open image as kind ``open``) with its human and automated counts.
``reader_clicks`` is written only with ``engagement.per_reader`` on. ``admin_users`` holds
the dashboard's editors and their argon2 password hashes;
``paused_editions`` the sends an editor paused (no row of theirs is claimed meanwhile).

Revision ID: 0016
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "edition_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("human", sa.Integer(), nullable=False),
        sa.Column("automated", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"], ["editions.id"], name=op.f("fk_edition_links_edition_id_editions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edition_links")),
        sa.UniqueConstraint("edition_id", "kind", "url", name="uq_edition_links_edition_kind_url"),
    )
    op.create_table(
        "reader_clicks",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["edition_links.id"], name=op.f("fk_reader_clicks_link_id_edition_links")
        ),
        sa.PrimaryKeyConstraint("link_id", "subscriber_id", name=op.f("pk_reader_clicks")),
    )
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("email", name=op.f("uq_admin_users_email")),
    )
    op.create_table(
        "paused_editions",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"], ["editions.id"], name=op.f("fk_paused_editions_edition_id_editions")
        ),
        sa.PrimaryKeyConstraint("edition_id", name=op.f("pk_paused_editions")),
    )


def downgrade() -> None:
    op.drop_table("paused_editions")
    op.drop_table("admin_users")
    op.drop_table("reader_clicks")
    op.drop_table("edition_links")
