"""A claim reads only claimable rows: its query plan at 90 % sent, on SQLite and PostgreSQL.

The rule: the cost of taking a batch must not grow with the rows already final. So every
statement a claim runs against ``deliveries`` either looks rows up by primary key or
reads a range of an index that holds unfinished rows only (a partial index, or on SQLite
the (edition, state) index, read in id order), in the order it wants them: no scan of
the table, no sort of the edition. The plans are read with the
database's own ``EXPLAIN`` on the very statements (and parameters) the claim ran.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from ledger_helpers import NOW, add_edition, add_subscribers
from sqlalchemy import event, text

from publisher.store import Store

READERS = 20_000
SENT = READERS * 9 // 10
PARTIAL = r"ix_deliveries_(pending|deferred|claimed)"


def _ninety_percent_sent(store: Store) -> tuple[int, list[int]]:
    ids = add_subscribers(store, READERS)
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    later = NOW + timedelta(hours=1)
    with store.engine.begin() as conn:  # the state a long send reaches, written at once
        conn.execute(
            text("UPDATE deliveries SET state = 'sent' WHERE edition_id = :e AND id <= :last"),
            {"e": edition, "last": SENT},
        )
        conn.execute(  # a few readers' servers said "later": deferred, not yet due
            text(
                "UPDATE deliveries SET state = 'deferred', attempts = 1, retry_at = :t "
                "WHERE edition_id = :e AND id > :last AND id % 10 = 0"
            ),
            {"e": edition, "last": SENT, "t": later},
        )
        conn.execute(text("ANALYZE"))
    return edition, ids


def _statements_of_claim(store: Store, edition_ids: Sequence[int] | None) -> list[Any]:
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if re.search(r"\bdeliveries\b", statement) and not statement.startswith("EXPLAIN"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", listen)
    try:
        claimed = store.deliveries.claim("w1", 100, 30, NOW, edition_ids)
    finally:
        event.remove(store.engine, "before_cursor_execute", listen)
    assert len(claimed) == 100
    assert [c.id for c in claimed] == [i for i in range(SENT + 1, SENT + 112) if i % 10][:100]
    return seen


def _plan(store: Store, statement: str, parameters: Any) -> str:
    postgres = store.engine.dialect.name == "postgresql"
    with store.engine.connect() as conn:
        if postgres:
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()
            return "\n".join(rows)
        found = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return "\n".join(str(r[-1]) for r in found)


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["every edition", "this edition"])
def test_a_claim_at_90_percent_sent_reads_only_claimable_rows(store: Store, scope: str) -> None:
    edition, _ = _ninety_percent_sent(store)
    statements = _statements_of_claim(store, None if scope == "every edition" else [edition])
    candidates = [s for s in statements if "LIMIT" in s[0].upper()]
    assert len(candidates) >= 3  # lapsed leases, due retries, pending rows
    for statement, parameters in statements:
        plan = _plan(store, statement, parameters)
        if store.engine.dialect.name == "postgresql":
            assert "Seq Scan on deliveries" not in plan, (statement, plan)
            if (statement, parameters) in candidates:  # an index of unfinished rows, or
                # one keyed on (edition, state), which SQLite reads in id order: a range
                assert re.search(PARTIAL, plan) or "state=?)" in plan, (statement, plan)
                assert "Sort" not in plan, (statement, plan)
        else:
            for step in plan.splitlines():
                if re.search(r"\b(SCAN|SEARCH) deliveries\b", step):
                    assert "SEARCH" in step or re.search(PARTIAL, step), (statement, plan)
            assert "TEMP B-TREE" not in plan, (statement, plan)
            if (statement, parameters) in candidates:  # an index of unfinished rows, or
                # one keyed on (edition, state), which SQLite reads in id order: a range
                assert re.search(PARTIAL, plan) or "state=?)" in plan, (statement, plan)


def test_next_due_reads_the_partial_indexes_too(store: Store) -> None:
    """When nothing is claimable, "when is the next?" is three index lookups, not a count."""
    edition, _ = _ninety_percent_sent(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET state = 'sent' WHERE state = 'pending'"))
    assert store.deliveries.next_due(NOW, [edition]) == NOW + timedelta(hours=1)
    assert store.deliveries.claim("w1", 100, 30, NOW, [edition]) == []
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET state = 'sent'"))
    assert store.deliveries.next_due(NOW, None) is None


@pytest.mark.slow
@pytest.mark.postgres
def test_an_outcome_group_is_written_by_primary_key_at_90_percent_sent(store: Store) -> None:
    """The group commit's ``UPDATE ... FROM json_to_recordset`` must find its rows by key.

    The planner cannot see into the JSON document (it guesses 100 rows) and guessed that
    one row is claimed by the writing worker, so it once read the whole ledger by primary
    key, filtering on ``claimed_by``, for every commit (5 ms at 20,000 rows). Naming the
    rows with ``id = ANY(ids)`` gives it the keys: an index lookup whatever the ledger's size.
    """
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the JSON statement is PostgreSQL's")
    from publisher.delivery import policy
    from publisher.store.deliveries import _RECORD_JSON, _outcome_document

    _ninety_percent_sent(store)
    claimed = store.deliveries.claim("w1", 100, 30, NOW)
    outcomes = [policy.sent(c, f"<{c.id}@x>", "250 ok") for c in claimed[:4]]
    plan = _plan(store, _RECORD_JSON, _outcome_document("w1", outcomes, NOW))
    assert "Seq Scan on deliveries" not in plan, plan
    assert re.search(r"Index Cond: \((d\.)?id = ANY", plan), plan
