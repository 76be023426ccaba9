"""The ledger's foreign keys go, on PostgreSQL: planning paid two key checks per row.

A plan writes a row per reader in one ``INSERT ... SELECT`` from ``subscribers`` for one
edition; PostgreSQL checked both keys of every row with a trigger of its own, and at a
million readers those checks were 9.7 s of a 17.9 s plan. The rows cannot name a missing
subscriber or edition: they are only ever written by that statement (from rows it reads
in the same transaction, with the edition's row locked), editions are never deleted, and
erasing a reader who has ledger rows anonymises the subscriber row instead of deleting it
(``SubscriberRepository.remove``), so the ledger keeps its history.

SQLite keeps the constraints: dropping one there rebuilds the table (its partial indexes
included), and its ledgers are small.

Revision ID: 0022
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None

_KEYS = (
    ("fk_deliveries_edition_id_editions", "editions", "edition_id"),
    ("fk_deliveries_subscriber_id_subscribers", "subscribers", "subscriber_id"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in _KEYS:
        op.drop_constraint(name, "deliveries", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, column in _KEYS:
        op.create_foreign_key(name, "deliveries", table, [column], ["id"])
