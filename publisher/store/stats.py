"""Cheap totals for monitoring: ledger rows by state across every edition.

One ``GROUP BY state`` over the ledger's state index; a scrape every few seconds costs a
scan of that index, never of the rows.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from publisher.store.engine import translate_errors
from publisher.store.schema import deliveries
from publisher.types import DeliveryState


def ledger_totals(engine: Engine) -> dict[str, int]:
    """Ledger rows by state, every state present (zero when none)."""
    query = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    totals = {state.value: 0 for state in DeliveryState}
    with translate_errors("cannot count deliveries"), engine.connect() as conn:
        for state, count in conn.execute(query):
            totals[str(state)] = int(count)
    return totals
