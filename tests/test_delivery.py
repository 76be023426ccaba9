"""The delivery engine against the real ledger (SQLite and PostgreSQL) and a real SMTP server."""

from __future__ import annotations

import gc
import hashlib
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import POSTGRES_URL, _require_postgres, reset_postgres
from ledger_helpers import (
    NOW,
    add_edition,
    add_subscribers,
    ledger_states,
    make_message,
    message_id_for,
)
from localhost import free_port
from smtp_counter import CountingServer, Faults
from sqlalchemy import text

from publisher.delivery import (
    MemoryTransport,
    RateLimiter,
    Sender,
    SenderOptions,
    SmtpOptions,
    SmtpTransport,
    policy,
)
from publisher.delivery.policy import after_failure, backoff_seconds, is_hard_bounce
from publisher.exceptions import (
    ConfigError,
    PermanentDeliveryError,
    RenderError,
    ServerUnreachable,
    StoreError,
    TransientDeliveryError,
)
from publisher.store import Store, open_store
from publisher.store.editions import settle_editions
from publisher.store.locks import lock_key
from publisher.types import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryState,
    OutgoingMessage,
    SubscriberStatus,
)


def smtp_factory(server: CountingServer, timeout: float = 5.0) -> SmtpTransport:
    return SmtpTransport(SmtpOptions("127.0.0.1", server.port, timeout=timeout))


# --- pure rules ------------------------------------------------------------------------------


def test_hard_bounce_codes_and_enhanced_status() -> None:
    assert is_hard_bounce(550, "550 mailbox unavailable")
    assert is_hard_bounce(551, "551 user not local")
    assert is_hard_bounce(553, "553 bad address")
    assert is_hard_bounce(554, "554 5.1.1 no such user")
    assert not is_hard_bounce(552, "552 5.2.2 mailbox full")
    assert not is_hard_bounce(554, "554 5.7.1 spam rejected")


def test_backoff_doubles_with_jitter() -> None:
    rng = random.Random(7)
    delays = [backoff_seconds(n, 10.0, rng) for n in (1, 2, 3, 4)]
    for n, delay in enumerate(delays):
        assert 10.0 * 2**n * 0.5 <= delay <= 10.0 * 2**n * 1.5
    spread = {round(backoff_seconds(1, 10.0, rng), 6) for _ in range(20)}
    assert len(spread) > 10  # jitter: not all the same


def test_failure_policy_defers_then_fails_and_bounces() -> None:
    claim = ClaimedDelivery(1, 1, "daily/x", 1, "a@example.org", "", attempts=0)
    temporary = TransientDeliveryError("451 later", 451)
    deferred = after_failure(claim, temporary, "<m>", NOW, 3, 10.0)
    assert deferred.state is DeliveryState.DEFERRED and deferred.attempts == 1
    assert deferred.retry_at is not None and deferred.retry_at > NOW
    last = ClaimedDelivery(1, 1, "daily/x", 1, "a@example.org", "", attempts=2)
    assert after_failure(last, temporary, "<m>", NOW, 3, 10.0).state is DeliveryState.FAILED
    refused = PermanentDeliveryError("554 policy", 554)
    assert after_failure(claim, refused, "<m>", NOW, 3, 10.0).state is DeliveryState.FAILED
    bounce = PermanentDeliveryError("550 no such user", 550, hard_bounce=True)
    outcome = after_failure(claim, bounce, "<m>", NOW, 3, 10.0)
    assert outcome.state is DeliveryState.SUPPRESSED and outcome.bounce


def test_rate_limiter_spaces_calls() -> None:
    moments: list[float] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    limiter = RateLimiter(50.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(10):
        limiter.wait()
        moments.append(clock[0])
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert all(gap == pytest.approx(0.02) for gap in gaps)
    assert RateLimiter(0).interval == 0.0


# --- the ledger ------------------------------------------------------------------------------


def test_ledger_rows_are_unique_per_edition_and_subscriber(store: Store) -> None:
    edition = add_edition(store)
    ids = add_subscribers(store, 5)
    assert store.deliveries.create(edition, [(i, "all") for i in ids], NOW) == 5
    assert store.deliveries.create(edition, [(i, "all") for i in ids], NOW) == 0
    more = add_subscribers(store, 2, start=5)
    assert store.deliveries.create(edition, [(i, None) for i in ids + more], NOW) == 2
    assert ledger_states(store, edition) == {"pending": 7}


def test_claims_are_disjoint_and_leases_return_rows(store: Store) -> None:
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 10)], NOW)
    first = store.deliveries.claim("w1", 6, 60, NOW)
    second = store.deliveries.claim("w2", 6, 60, NOW)
    assert len(first) == 6 and len(second) == 4
    assert not {c.id for c in first} & {c.id for c in second}
    assert store.deliveries.claim("w3", 6, 60, NOW) == []
    # w1 "crashes": after its lease, its rows are claimable again; w2's record still counts.
    later = NOW + timedelta(seconds=61)
    again = store.deliveries.claim("w3", 20, 60, later)
    assert {c.id for c in again} == {c.id for c in first} | {c.id for c in second}
    # The old owner can no longer settle rows it lost.
    assert store.deliveries.record("w1", [], later) == 0


def test_release_returns_untried_rows(store: Store) -> None:
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 3)], NOW)
    claims = store.deliveries.claim("w1", 10, 60, NOW)
    assert store.deliveries.release("w1", [c.id for c in claims], NOW) == 3
    assert ledger_states(store, edition) == {"pending": 3}
    assert store.deliveries.next_due(NOW, [edition]) == NOW
    assert store.deliveries.unfinished_editions() == [edition]


# --- the sender ------------------------------------------------------------------------------


def test_memory_transport_run_settles_every_row(store: Store) -> None:
    edition = add_edition(store)
    ids = add_subscribers(store, 30)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    memory = MemoryTransport()
    sender = Sender(
        store.deliveries, lambda: memory, make_message, SenderOptions(batch_size=7, connections=3)
    )
    tally = sender.run()
    assert tally.sent == 30
    assert sorted(m.recipient for m in memory.sent) == sorted(
        f"reader{n}@example.org" for n in range(30)
    )
    rows = store.deliveries.rows(edition)
    assert {r["state"] for r in rows} == {"sent"}
    assert all(
        r["message_id"] == message_id_for("daily/2026-11-27", r["subscriber_id"]) for r in rows
    )
    assert all(r["reply"] == "250 kept in memory" and r["claimed_by"] is None for r in rows)
    assert store.deliveries.unfinished_editions() == []


def test_unsubscribed_after_planning_is_not_sent(store: Store) -> None:
    """B6: an unsubscribe between planning and sending is honoured at once."""
    edition = add_edition(store)
    ids = add_subscribers(store, 3)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    store.subscribers.set_status(ids[0], SubscriberStatus.UNSUBSCRIBED)
    store.subscribers.suppress("reader1@example.org", "complaint")
    memory = MemoryTransport()
    Sender(store.deliveries, lambda: memory, make_message).run()
    assert [m.recipient for m in memory.sent] == ["reader2@example.org"]
    assert ledger_states(store, edition) == {"sent": 1, "suppressed": 2}


@pytest.mark.slow
def test_clean_run_of_2000_recipients_each_received_once(store: Store) -> None:
    edition = add_edition(store)
    ids = add_subscribers(store, 2000)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    with CountingServer() as server:
        options = SenderOptions(batch_size=200, connections=4)
        tally = Sender(store.deliveries, lambda: smtp_factory(server), make_message, options).run()
    copies = server.handler.copies()
    assert len(copies) == 2000 and set(copies.values()) == {1}
    assert tally.sent == 2000
    assert ledger_states(store, edition) == {"sent": 2000}
    rows = store.deliveries.rows(edition)
    assert all(r["reply"].startswith("250 2.0.0 OK queued") for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("pipelining", [False, True], ids=["sequential", "pipelined"])
def test_faulty_server_every_good_recipient_once_bounces_suppressed(
    store: Store, pipelining: bool
) -> None:
    edition = add_edition(store)
    ids = add_subscribers(store, 600)
    refused = frozenset(f"reader{n}@example.org" for n in range(0, 600, 50))
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    faults = Faults(0.10, 0.01, slow=0.05, delay=0.05, refused=refused, pipelining=pipelining)
    with CountingServer(faults) as server:
        options = SenderOptions(
            batch_size=100, connections=4, retry_base_seconds=0.05, max_attempts=5
        )
        Sender(store.deliveries, lambda: smtp_factory(server), make_message, options).run()
    played = server.handler.played
    assert played["4xx"] > 20 and played["dropped"] >= 2 and played["550"] == len(refused)
    copies = server.handler.copies()
    good = {f"reader{n}@example.org" for n in range(600)} - refused
    assert set(copies) == good
    assert set(copies.values()) == {1}
    assert ledger_states(store, edition) == {"sent": len(good), "suppressed": len(refused)}
    for address in refused:
        assert store.subscribers.is_suppressed(address)
        assert store.subscribers.get_by_email(address).status is SubscriberStatus.BOUNCED
    deferred_once = [r for r in store.deliveries.rows(edition) if r["attempts"] > 1]
    assert len(deferred_once) >= played["4xx"] + played["dropped"] - len(refused)


def test_a_relay_reply_with_control_characters_is_recorded_without_them(store: Store) -> None:
    """A relay's reply text is the relay's to choose: a NUL in it could not be stored (a
    PostgreSQL text value, a JSON document, cannot hold one) and an escape would reach the
    editor's terminal in ``digest status``. Every message is recorded as sent, the reply
    kept as one clean line."""
    edition = add_edition(store)
    ids = add_subscribers(store, 30)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    faults = Faults(accepted="250 2.0.0 OK\x00 queued as \x1b[31mA1B2\x7f")
    with CountingServer(faults) as server:
        options = SenderOptions(batch_size=10, connections=2)
        tally = Sender(store.deliveries, lambda: smtp_factory(server), make_message, options).run()
    assert tally.sent == 30 and ledger_states(store, edition) == {"sent": 30}
    replies = {r["reply"] for r in store.deliveries.rows(edition)}
    assert replies == {"250 2.0.0 OK queued as [31mA1B2"}


def test_a_5xx_that_is_not_a_bounce_fails_at_once(store: Store) -> None:
    edition = add_edition(store)
    ids = add_subscribers(store, 2)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)

    class Refusing(MemoryTransport):
        def send(self, message):  # type: ignore[no-untyped-def]
            if message.recipient == "reader0@example.org":
                raise PermanentDeliveryError("554 5.7.1 message refused", 554)
            return super().send(message)

    Sender(store.deliveries, Refusing, make_message).run()
    rows = {r["email"]: r for r in store.deliveries.rows(edition)}
    assert rows["reader0@example.org"]["state"] == "failed"
    assert rows["reader0@example.org"]["attempts"] == 1
    assert rows["reader1@example.org"]["state"] == "sent"
    assert not store.subscribers.is_suppressed("reader0@example.org")


def test_stop_finishes_in_flight_and_releases_claims(store: Store) -> None:
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 50)], NOW)
    stop = threading.Event()

    class StopAfterFive(MemoryTransport):
        def send(self, message):  # type: ignore[no-untyped-def]
            reply = super().send(message)
            if len(self.sent) == 5:
                stop.set()
            return reply

    memory = StopAfterFive()
    tally = Sender(
        store.deliveries, lambda: memory, make_message, SenderOptions(batch_size=20)
    ).run(stop)
    assert tally.sent == 5 == len(memory.sent)
    assert ledger_states(store, edition) == {"sent": 5, "pending": 45}
    assert all(r["claimed_by"] is None for r in store.deliveries.rows(edition))


def test_pipelined_envelope_is_one_write_and_dots_are_stuffed() -> None:
    """RFC 2920 when offered; RFC 5321 4.5.2 dot-stuffing of lines starting with a dot."""
    with CountingServer(Faults(pipelining=True)) as server:
        transport = smtp_factory(server)
        data = b"Message-ID: <dots@x>\r\nSubject: s\r\n\r\n.leading dot\r\n..two\r\nend"
        message = OutgoingMessage("a@example.org", "b@example.org", "<dots@x>", data)
        reply = transport.send(message)
        assert reply.startswith("250 ")
        assert transport.send(message).startswith("250 ")
        transport.close()
        assert transport.connects == 1  # the connection was reused
    assert server.handler.received == [("b@example.org", "<dots@x>")] * 2


def test_dropped_idle_connection_is_replaced_without_losing_the_message() -> None:
    with CountingServer() as server:
        transport = smtp_factory(server)
        message = make_message(ClaimedDelivery(1, 1, "daily/x", 1, "z@example.org", ""))
        transport.send(message)
        assert transport._conn is not None and transport._conn.sock is not None
        transport._conn.sock.shutdown(2)  # the server side sees the connection go
        assert transport.send(message).startswith("250 ")
        transport.close()
        assert transport.connects == 2
    assert len(server.handler.received) == 2


def test_a_message_that_cannot_be_built_stops_the_run_and_loses_nothing(store: Store) -> None:
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 40)], NOW)

    def factory(claim: ClaimedDelivery) -> OutgoingMessage:
        if claim.email == "reader25@example.org":
            raise RenderError("the template broke", "digest.html", 3)
        return make_message(claim)

    memory = MemoryTransport()
    options = SenderOptions(batch_size=10, connections=2)
    with pytest.raises(RenderError):
        Sender(store.deliveries, lambda: memory, factory, options).run()
    states = ledger_states(store, edition)
    assert "claimed" not in states  # the failed batch was released, not left to a lease
    assert states["sent"] == len(memory.sent) >= 20
    assert states["sent"] + states["pending"] == 40


def test_claims_never_outlast_their_lease_at_a_low_rate(sqlite_store: Store) -> None:
    memory = MemoryTransport()
    slow = SenderOptions(batch_size=200, lease_seconds=60, rate=1.0)
    assert Sender(sqlite_store.deliveries, lambda: memory, make_message, slow).claim_size == 30
    fast = SenderOptions(batch_size=200, lease_seconds=60, rate=0)
    assert Sender(sqlite_store.deliveries, lambda: memory, make_message, fast).claim_size == 200


def test_internationalised_domain_needs_no_smtputf8_in_the_envelope() -> None:
    """``ann@bücher.de`` goes out as its A-label to a relay without SMTPUTF8 (RFC 6531);
    only a non-ASCII local part needs the extension and is deferred without it."""
    with CountingServer(Faults(smtputf8=False)) as server:
        transport = smtp_factory(server)
        ascii_local = OutgoingMessage("a@example.org", "ann@bücher.de", "<idn@x>", b"\r\n")
        assert transport.send(ascii_local).startswith("250 ")
        utf8_local = OutgoingMessage("a@example.org", "zoë@bücher.de", "<idn2@x>", b"\r\n")
        with pytest.raises(TransientDeliveryError, match="SMTPUTF8"):
            transport.send(utf8_local)
        transport.close()
    assert server.handler.received == [("ann@xn--bcher-kva.de", "")]


def test_concurrent_sends_creating_one_editions_ledger_both_succeed(tmp_path: Path) -> None:
    """Two `digest send` processes started together on SQLite both plan the edition: the
    second used to fail with "cannot create deliveries: database is locked" because its
    read-then-insert transaction could not take the write lock after the first committed
    (SQLITE_BUSY_SNAPSHOT is not retried by the busy timeout). Rows stay unique."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = open_store(url, "https://news.example.org", create=True)
    ids = add_subscribers(first, 3000)
    edition = add_edition(first)
    first.close()
    stores = [open_store(url, "https://news.example.org") for _ in range(4)]
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []
    created: list[int] = []

    def plan(store: Store) -> None:
        start.wait()
        for _ in range(3):
            try:
                created.append(store.deliveries.create(edition, [(i, None) for i in ids], NOW))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=plan, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert sum(created) == 3000


def test_an_unreachable_server_pauses_the_run_instead_of_charging_every_row(
    sqlite_store: Store,
) -> None:
    """Server down: the batch goes back untouched and the sender pauses, doubling; before,
    all 200 rows of the batch were charged a try at once, and a longer outage exhausted
    every reader's tries and failed the edition."""
    store = sqlite_store
    edition = add_edition(store)
    ids = add_subscribers(store, 200)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    closed = SmtpOptions("127.0.0.1", free_port(), timeout=2.0)  # nothing listens there
    options = SenderOptions(batch_size=200, connections=4, retry_base_seconds=0.2)
    stop = threading.Event()
    sender = Sender(store.deliveries, lambda: SmtpTransport(closed), make_message, options)
    runner = threading.Thread(target=sender.run, kwargs={"stop": stop})
    runner.start()
    threading.Event().wait(1.0)  # pauses of 0.2, 0.4 and 0.8 s: three outages at most
    stop.set()
    runner.join(10)
    assert not runner.is_alive()
    rows = store.deliveries.rows(edition)
    assert [r for r in rows if r["attempts"] > 0] == []
    assert ledger_states(store, edition) == {"pending": 200}


class _RefuseEveryone:
    """An aiosmtpd authenticator that answers 535 to any credentials."""

    def __call__(self, server: object, session: object, envelope: object, *auth: object) -> object:
        return AuthResult(success=False, handled=False)


def test_a_refused_login_stops_the_run_and_fails_nobody(sqlite_store: Store) -> None:
    """Wrong SMTP password: one ConfigError naming the settings, rows back untouched (a
    refused login used to fail every reader's delivery of the edition for good)."""
    store = sqlite_store
    edition = add_edition(store)
    ids = add_subscribers(store, 20)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    with CountingServer() as server:
        # aiosmtpd offers AUTH only with an authenticator: restart with one that refuses.
        server.controller.stop()
        server.controller = Controller(
            server.handler,
            hostname="127.0.0.1",
            port=server.port,
            authenticator=_RefuseEveryone(),
            auth_require_tls=False,
        )
        server.controller.start()
        wrong = SmtpOptions("127.0.0.1", server.port, username="u", password="wrong")
        sender = Sender(store.deliveries, lambda: SmtpTransport(wrong), make_message)
        with pytest.raises(ConfigError, match=r"smtp\.password: login refused"):
            sender.run()
    assert ledger_states(store, edition) == {"pending": 20}
    assert server.handler.received == []


def test_a_send_gives_up_after_max_attempts_outages_and_leaves_rows_due(
    sqlite_store: Store,
) -> None:
    """`digest send` against a server that stays down ends with the connect error after
    max_attempts pauses, instead of waiting forever; every row is still pending."""
    store = sqlite_store
    edition = add_edition(store)
    ids = add_subscribers(store, 50)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)
    closed = SmtpOptions("127.0.0.1", free_port(), timeout=2.0)
    options = SenderOptions(batch_size=50, connections=4, retry_base_seconds=0.02, max_attempts=3)
    sender = Sender(store.deliveries, lambda: SmtpTransport(closed), make_message, options)
    with pytest.raises(ServerUnreachable, match="cannot connect"):
        sender.run()
    # One outage per batch, however many lanes found it: four lanes once counted four, so
    # the first pause was 8 times too long and the run gave up after a single batch.
    assert sender._outages == options.max_attempts
    states = ledger_states(store, edition)
    assert states == {"pending": 50}


def test_a_send_sets_the_long_lived_heap_aside_only_while_it_runs(store: Store) -> None:
    """During a send the objects that existed before it are frozen (the cyclic collector
    skips them); after it, and after a failed one, the collector sees them again, so a
    long-lived process (``serve``, a worker) keeps collecting what it builds between sends."""
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 3)], NOW)
    before = gc.get_freeze_count()
    frozen_during: list[int] = []

    def build(claim: ClaimedDelivery) -> OutgoingMessage:
        frozen_during.append(gc.get_freeze_count())
        if claim.subscriber_id == 3:
            raise ValueError("a broken template")
        return make_message(claim)

    with pytest.raises(ValueError, match="broken template"):
        Sender(store.deliveries, MemoryTransport, build, SenderOptions(batch_size=1)).run()
    assert frozen_during and min(frozen_during) > before
    assert gc.get_freeze_count() == before
    assert ledger_states(store, edition) == {"sent": 2, "pending": 1}


def test_a_sender_whose_rows_are_taken_mid_batch_stops_sending_them(store: Store) -> None:
    """A live sender judged dead (its hold-lock session ended) must not send on what it lost.

    Another sender that finds a holder's hold lock free reclaims that holder's rows at once
    and sends them. The first sender, alive after all, learns it at its next group commit
    (the rows no longer match it): it must stop the batch there, so that it has sent at
    most ``unrecorded`` of the taken rows, not the rest of its batch.
    """
    edition = add_edition(store)
    ids = add_subscribers(store, 40)
    store.deliveries.create(edition, [(i, None) for i in ids], NOW)

    class TakenAfterTen(MemoryTransport):
        def send(self, message):  # type: ignore[no-untyped-def]
            reply = super().send(message)
            if len(self.sent) == 10:  # what a second sender's reclaim does to this one
                assert store.deliveries.reclaim("w1", datetime.now(UTC)) > 0
            return reply

    memory = TakenAfterTen()
    options = SenderOptions(batch_size=30, connections=1)
    Sender(store.deliveries, lambda: memory, make_message, options, worker_id="w1").run()
    copies = Counter(m.recipient for m in memory.sent)
    assert set(copies) == {f"reader{n}@example.org" for n in range(40)}
    # The reclaimed rows went back to pending and were sent again (here by this same
    # sender, in its next claim): only those it sent after the reclaim are repeats.
    assert sum(copies.values()) - 40 <= options.unrecorded
    assert ledger_states(store, edition) == {"sent": 40}


@pytest.mark.postgres
def test_a_live_sender_takes_its_hold_lock_back_when_its_session_ends() -> None:
    """A hold lock whose PostgreSQL session ended says "dead" for a live sender.

    Other senders would then reclaim its rows each time they run out of work (and each
    such theft repeats up to ``unrecorded`` messages per connection). The sender's
    heartbeat (``HolderLock.keep``) takes the lock back, so it looks alive again.
    """
    store, _ = _fresh_postgres_edition(3)
    try:
        lock = store.deliveries.hold("w1")
        assert lock is not None
        now = datetime.now(UTC)
        assert store.deliveries.claim("w1", 3, 60, now)
        key = lock_key("holder-" + hashlib.sha256(b"w1").hexdigest()[:20])
        key &= 0xFFFF_FFFF_FFFF_FFFF  # a bigint advisory key is (classid, objid) in pg_locks
        with store.engine.begin() as conn:  # what a network cut does to the lock's session
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) "
                    "AND classid = :high AND objid = :low AND objsubid = 1"
                ),
                {"high": key >> 32, "low": key & 0xFFFF_FFFF},
            ).all()
        assert ended
        assert [h.alive for h in store.deliveries.holders(now)] == [False]
        lock.keep()
        assert [h.alive for h in store.deliveries.holders(now)] == [True]
        lock.release()
    finally:
        store.close()


def test_a_digest_is_never_searched_for_dots_and_still_arrives_unchanged() -> None:
    """RFC 5321 4.5.2 asks SMTP to double a dot that starts a line. A digest's bodies are
    quoted-printable with such a dot written as =2E, so its variant is checked for them
    once (``MessageTemplate.dot_free``), not each reader's 40 kB per message; the bytes the
    server receives are the bytes built, dots in the copy included."""
    from dataclasses import replace

    from digest_sample import sample_articles, sample_recipient
    from digest_support import render_sample

    first, *rest = sample_articles(3)
    dotted = replace(
        first,
        summary=".NET 9 ships",
        content_html="<p>.NET 9 ships.</p><p>..and a second paragraph.</p>",
    )
    message = render_sample(articles=[dotted, *rest]).message_for(
        sample_recipient(42, ".Ann Reader")
    )
    assert message.dot_free and b"\n." not in message.data and b"NET 9 ships" in message.data
    with CountingServer(keep=True) as server:
        transport = smtp_factory(server)
        assert transport.send(message).startswith("250 ")
        transport.close()
    received = server.handler.messages[0][1]
    assert received.replace(b"\r\n", b"\n").endswith(message.data.replace(b"\r\n", b"\n"))


def test_a_reader_value_that_starts_a_line_with_a_dot_turns_the_search_back_on() -> None:
    """Per reader only the short values are checked: a value that begins a line and begins
    with a dot, or holds a line break and a dot, makes the message dotted; a dot inside a
    line does not."""
    from publisher.digest.message import MessageTemplate

    start, inside = ("text", "greeting"), ("text", "name")
    fixed = MessageTemplate(
        (b"Subject: s\r\n\r\n", b" and ", b"\r\nend\r\n"),
        (start, inside),
        (),
        dotted=False,
        line_starts=(start,),
    )
    assert fixed.dot_free({start: b"Hello", inside: b"Ann"})
    assert fixed.dot_free({start: b"Hello", inside: b".Ann"})  # mid-line: no stuffing
    assert not fixed.dot_free({start: b".Hello", inside: b"Ann"})
    assert not fixed.dot_free({start: b"Hello", inside: b"Ann\r\n.Bob"})
    conservative = MessageTemplate(fixed.chunks, fixed.slots, ())  # unknown: assume dots
    assert not conservative.dot_free({start: b"Hello", inside: b"Ann"})


def test_the_edition_is_settled_when_another_lanes_slow_message_comes_last(store: Store) -> None:
    """Only the outcome that leaves its edition no open row of the sender's asks whether
    the edition is finished. Here the last row taken is answered at once while a row
    taken before it is still on a slow connection: that slower outcome is the edition's
    last, and it must settle the edition (the question is asked when the outcome comes,
    not when its row was taken)."""
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 6)], NOW)
    slow = message_id_for("daily/2026-11-27", 5)  # taken fifth of six

    class SlowForOne(MemoryTransport):
        def send(self, message: OutgoingMessage) -> str:
            if message.message_id == slow:
                time.sleep(0.5)  # the sixth is sent and committed meanwhile
            return super().send(message)

    lanes = SenderOptions(batch_size=10, connections=2)
    tally = Sender(store.deliveries, SlowForOne, make_message, lanes).run()
    assert tally.sent == 6
    assert ledger_states(store, edition) == {"sent": 6}
    settled = store.editions.get("daily/2026-11-27")
    assert settled is not None and settled.status == "sent"
    assert settled.final_counts is not None and settled.final_counts["sent"] == 6


def test_an_edition_whose_last_rows_share_a_batch_with_the_next_is_settled(store: Store) -> None:
    """Claims take rows in edition order, so one batch can hold the last rows of one
    edition and the first of the next. The older edition is finished by its own last
    outcome, though rows of the newer one still wait behind it and are committed in
    later groups (each lane waits for its commits: at most two unrecorded)."""
    older = add_edition(store, "daily/2026-11-26")
    newer = add_edition(store, "daily/2026-11-27")
    readers = add_subscribers(store, 8)
    store.deliveries.create(older, [(i, None) for i in readers[:3]], NOW)
    store.deliveries.create(newer, [(i, None) for i in readers], NOW)
    one_lane = SenderOptions(batch_size=50, connections=1)
    tally = Sender(store.deliveries, MemoryTransport, make_message, one_lane).run()
    assert tally.sent == 11
    for key, sent in (("daily/2026-11-26", 3), ("daily/2026-11-27", 8)):
        edition = store.editions.get(key)
        assert edition.status == "sent", key
        assert edition.final_counts is not None and edition.final_counts["sent"] == sent


def test_the_heartbeat_skips_a_held_row_another_session_is_writing() -> None:
    """The heartbeat's renewal never waits for a row lock (PostgreSQL): it renews the
    worker's other rows at once and leaves the one the outcome writer has locked in an
    open transaction. Waiting, the two statements deadlocked (each had locked rows the
    other wanted, in another order), and when PostgreSQL ended the writer's the send
    stopped."""
    store, edition = _fresh_postgres_edition(4)
    try:
        claimed = store.deliveries.claim("w1", 4, 60, datetime.now(UTC))
        busy = claimed[1].id
        later = datetime.now(UTC) + timedelta(minutes=30)
        renewed: list[int] = []
        with store.engine.connect() as writer:
            transaction = writer.begin()
            lock = text("SELECT id FROM deliveries WHERE id = :id FOR UPDATE")
            writer.execute(lock, {"id": busy})
            renewal = threading.Thread(
                target=lambda: renewed.append(store.deliveries.renew("w1", 60, later))
            )
            renewal.start()
            renewal.join(10)
            waited = renewal.is_alive()
            transaction.rollback()  # lets a waiting renewal end (the test then fails)
            renewal.join()
        assert not waited
        assert renewed == [3]
        leases = {r["id"]: r["lease_until"] for r in store.deliveries.rows(edition)}
        expected = later + timedelta(seconds=60)
        assert {i for i, lease in leases.items() if lease == expected} == {
            c.id for c in claimed if c.id != busy
        }
        assert leases[busy] < expected  # the claim's own lease, renewed at the next beat
    finally:
        store.close()


def test_two_senders_writing_an_editions_last_rows_at_once_settle_it() -> None:
    """Two senders each write their last rows of an edition and ask, in the same
    transaction, whether any row is still open (PostgreSQL, read committed). Asked at
    once, each saw the other's rows open (uncommitted) and neither settled the edition:
    it stayed `sending` with every row final. The settlers now take turns, and the later
    one sees the earlier's rows final."""
    store, edition = _fresh_postgres_edition(4)
    try:
        now = datetime.now(UTC)
        first = [c.id for c in store.deliveries.claim("w1", 2, 60, now)]
        second = [c.id for c in store.deliveries.claim("w2", 2, 60, now)]
        sent = text("UPDATE deliveries SET state = 'sent', claimed_by = NULL WHERE id = ANY(:ids)")
        settled: list[list[int]] = []
        with store.engine.connect() as one, store.engine.connect() as two:
            one_txn, two_txn = one.begin(), two.begin()
            one.execute(sent, {"ids": first})
            two.execute(sent, {"ids": second})
            settled.append(settle_editions(one, [edition], now))  # the other's rows: open
            late = threading.Thread(
                target=lambda: settled.append(settle_editions(two, [edition], now))
            )
            late.start()
            late.join(1.0)
            one_txn.commit()
            late.join()
            two_txn.commit()
        assert settled == [[], [edition]]
        assert store.editions.get("daily/2026-11-27").status == "sent"
    finally:
        store.close()


def _fresh_postgres_edition(readers: int) -> tuple[Store, int]:
    """A fresh PostgreSQL store holding one edition with a pending row for each reader."""
    _require_postgres()
    reset_postgres(POSTGRES_URL)
    store = open_store(POSTGRES_URL, "https://news.example.org", create=True)
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, readers)], NOW)
    return store, edition


def _four_sent_outcomes_on_postgres() -> tuple[Store, int, list[DeliveryOutcome]]:
    """A fresh PostgreSQL store with four rows claimed by "w1", and their "sent" outcomes."""
    store, edition = _fresh_postgres_edition(4)
    claimed = store.deliveries.claim("w1", 4, 60, datetime.now(UTC))
    return store, edition, [policy.sent(c, f"<{c.id}@x>", "250 ok") for c in claimed]


def _ledger_rows(store: Store, edition: int) -> dict[int, tuple[Any, ...]]:
    """Each row as SQLite holds it (times as stored text), by id."""
    query = text(
        "SELECT id, state, attempts, message_id, reply, retry_at, claimed_by, lease_until,"
        " updated_at FROM deliveries WHERE edition_id = :e ORDER BY id"
    )
    with store.engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for row in conn.execute(query, {"e": edition})}


def test_the_sqlite_outcome_writer_stores_what_the_ledger_stores_elsewhere(
    sqlite_store: Store,
) -> None:
    """On SQLite the common group (nothing to suppress or settle) is written by the
    driver's own ``executemany``, past SQLAlchemy's types. What it stores must be what
    the SQLAlchemy path stores, byte for byte: times are text there, and a deferred row
    is found due again by comparing that text with the claim's moment."""
    store = sqlite_store
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 5)], NOW)
    claimed = store.deliveries.claim("w1", 5, 60, NOW)
    due = NOW + timedelta(minutes=7, microseconds=250)  # odd microseconds on purpose
    deferred = [
        DeliveryOutcome(
            c.id,
            DeliveryState.DEFERRED,
            1,
            f"<{c.id}@x>",
            "451 4.7.1 try\x00 later\r\n",
            retry_at=due,
            edition_id=edition,
        )
        for c in claimed[:4]
    ]
    writer = store.deliveries.writer("w1")
    later = NOW + timedelta(seconds=5)
    assert writer.record(deferred[:2], later, settle=False) == 2  # the driver's statement
    assert store.deliveries.record("w1", deferred[2:], later) == 2  # through SQLAlchemy
    # A row the writer no longer holds is left alone (another worker took it over).
    stolen = DeliveryOutcome(claimed[4].id, DeliveryState.SENT, 1, edition_id=edition)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE deliveries SET claimed_by = 'w2' WHERE id = :i"), {"i": stolen.delivery_id}
        )
    assert writer.record([stolen], later, settle=False) == 0
    writer.close()
    rows = _ledger_rows(store, edition)
    # Every column but the message id (each row's own) and the id.
    direct = [rows[o.delivery_id][:2] + rows[o.delivery_id][3:] for o in deferred[:2]]
    through_sqlalchemy = [rows[o.delivery_id][:2] + rows[o.delivery_id][3:] for o in deferred[2:]]
    assert direct == through_sqlalchemy
    assert direct[0] == (
        "deferred", 1, "451 4.7.1 try later", "2026-11-27 12:07:00.000250", None, None,
        "2026-11-27 12:00:05.000000",
    )  # fmt: skip
    assert rows[stolen.delivery_id][0] == "claimed"
    assert store.deliveries.record("w2", [stolen], later) == 1  # its new holder's outcome
    assert store.deliveries.claim("w3", 10, 60, due - timedelta(microseconds=1)) == []
    again = store.deliveries.claim("w3", 10, 60, due)
    assert sorted(c.id for c in again) == sorted(o.delivery_id for o in deferred)


def _one_of_n_sent_on_sqlite(
    store: Store, readers: int
) -> tuple[int, list[ClaimedDelivery], list[DeliveryOutcome], Any]:
    """An edition of ``readers`` rows claimed by "w1", their "sent" outcomes, and w1's
    writer, which has recorded the first one (its session open, on the driver's path)."""
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, readers)], NOW)
    claimed = store.deliveries.claim("w1", readers, 60, NOW)
    outcomes = [policy.sent(c, f"<{c.id}@x>", "250 ok") for c in claimed]
    writer = store.deliveries.writer("w1")
    assert writer.record(outcomes[:1], NOW, settle=False) == 1
    return edition, claimed, outcomes, writer


def test_a_failed_sqlite_outcome_write_names_the_ledger_and_leaves_every_row_as_it_was(
    sqlite_store: Store,
) -> None:
    """An error in the middle of the driver's statement (its first row already written)
    is a StoreError in one line; the transaction is rolled back (no row half-written, no
    write lock left held) and the writer works again once the database does."""
    store = sqlite_store
    edition, claimed, outcomes, writer = _one_of_n_sent_on_sqlite(store, 4)
    driver = writer._conn.connection.driver_connection  # type: ignore[union-attr]
    # The writer's own session refuses the third row (after the second is written).
    driver.execute(
        "CREATE TEMP TRIGGER refuse BEFORE UPDATE ON deliveries"
        f" WHEN NEW.id = {claimed[2].id} BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(StoreError) as caught:
        writer.record(outcomes[1:3], NOW, settle=False)
    assert str(caught.value) == "cannot record deliveries: refused"
    assert not driver.in_transaction
    assert ledger_states(store, edition) == {"sent": 1, "claimed": 3}
    # Another session can write at once: the failed group holds no lock.
    assert store.deliveries.record("w1", outcomes[3:], NOW) == 1
    driver.execute("DROP TRIGGER refuse")
    assert writer.record(outcomes[1:3], NOW) == 2  # the last open rows: the edition settles
    writer.close()
    assert ledger_states(store, edition) == {"sent": 4}
    settled = store.editions.get("daily/2026-11-27")
    assert settled is not None and settled.status == "sent"


def test_a_sqlite_outcome_group_whose_commit_fails_holds_no_lock_on_either_path(
    sqlite_store: Store,
) -> None:
    """A COMMIT that fails leaves SQLite inside the transaction, holding the write lock
    every claim and every other sender waits for. Both paths of the writer (the driver's
    statement, and SQLAlchemy's for a group that settles) roll it back; the group is a
    StoreError. A time without a zone is refused before anything is written, as the
    SQLAlchemy path refuses it."""
    import sqlite3

    store = sqlite_store
    edition, _claimed, outcomes, writer = _one_of_n_sent_on_sqlite(store, 3)
    driver = writer._conn.connection.driver_connection  # type: ignore[union-attr]
    # On the writer's own session: every update of the ledger breaks a deferred foreign
    # key, which SQLite checks at COMMIT.
    driver.executescript(
        "CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TEMP TABLE child (parent_id INTEGER"
        " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);"
        "CREATE TEMP TRIGGER orphan AFTER UPDATE ON deliveries"
        " BEGIN INSERT INTO child VALUES (42); END;"
    )
    database = store.engine.url.database
    for group, settle in ((outcomes[1:2], False), (outcomes[1:3], True)):
        with pytest.raises(StoreError, match=r"^cannot record deliveries: FOREIGN KEY"):
            writer.record(group, NOW, settle=settle)
        assert not driver.in_transaction
        other = sqlite3.connect(str(database), timeout=0.2, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if the lock were held
        other.execute("ROLLBACK")
        other.close()
    assert ledger_states(store, edition) == {"sent": 1, "claimed": 2}
    driver.execute("DROP TRIGGER orphan")
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(StoreError, match="without a zone"):
        writer.record(outcomes[1:2], naive, settle=False)
    assert writer.record(outcomes[1:3], NOW) == 2
    writer.close()
    assert ledger_states(store, edition) == {"sent": 3}


@pytest.mark.postgres
def test_the_outcome_writer_reconnects_when_its_session_is_cut() -> None:
    """The common group goes straight to libpq on an autocommit session; a
    session that ends (a network cut, a restarted server) is replaced once and the group
    is written, as on the SQLAlchemy path."""
    store, edition, outcomes = _four_sent_outcomes_on_postgres()
    try:
        writer = store.deliveries.writer("w1")
        assert writer.record(outcomes[:2], NOW, settle=False) == 2
        pid = writer._pgconn.backend_pid
        with store.engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        assert writer.record(outcomes[2:3], NOW, settle=False) == 1  # a new session
        assert writer._pgconn.backend_pid != pid
        assert writer.record(outcomes[3:], NOW) == 1  # the last: settles, in a transaction
        writer.close()
        assert ledger_states(store, edition) == {"sent": 4}
        settled = store.editions.get("daily/2026-11-27")
        assert settled is not None and settled.status == "sent"
    finally:
        store.close()


def test_two_recorder_writers_overlap_plain_groups_but_a_settling_group_goes_alone() -> None:
    """With two writers a plain group is written while another waits for its commit, and a
    lane's ticket counts as committed only once every group before it is; a group that may
    finish an edition is never written beside another (it would see the other's rows as
    still open and leave the edition ``sending``)."""
    from publisher.delivery.recorder import Recorder

    release_first = threading.Event()
    started: list[tuple[int, bool]] = []  # (first delivery id of the group, settle)
    finished: list[int] = []
    lock = threading.Lock()

    def write(group: Sequence[DeliveryOutcome], settle: bool) -> int:
        outcomes = list(group)
        with lock:
            started.append((outcomes[0].delivery_id, settle))
        if outcomes[0].delivery_id == 1:
            assert release_first.wait(5)
        with lock:
            finished.append(outcomes[0].delivery_id)
        return len(outcomes)

    def outcome(n: int) -> DeliveryOutcome:
        claim = ClaimedDelivery(n, 1, "daily/x", n, f"r{n}@example.org", "")
        return policy.sent(claim, f"<{n}@x>", "250 ok")

    recorder = Recorder(write, write, overlap=lambda outcomes, settle: not settle)
    first = recorder.add(outcome(1), settle=False)
    deadline = time.monotonic() + 5
    while not started and time.monotonic() < deadline:
        time.sleep(0.001)
    second = recorder.add(outcome(2), settle=False)
    waiter = threading.Thread(target=recorder.wait_for, args=(second,))
    waiter.start()
    deadline = time.monotonic() + 5
    while 2 not in finished and time.monotonic() < deadline:
        time.sleep(0.001)
    assert finished == [2]  # written beside the first, which still waits
    waiter.join(0.2)
    assert waiter.is_alive()  # yet not committed for the lane: the first is not
    third = recorder.add(outcome(3), settle=True)
    time.sleep(0.05)
    assert [s for s in started if s[0] == 3] == []  # the settling group waits its turn
    release_first.set()
    waiter.join(5)
    assert not waiter.is_alive()
    recorder.wait_for(third)
    assert finished == [2, 1, 3] and (3, True) in started
    recorder.close()
    assert recorder.commits == 3 and first < second < third


def _setting(pgconn: Any, name: str) -> str:
    """A session setting as the writer's own libpq connection sees it."""
    value = pgconn.exec_(f"SHOW {name}".encode()).get_value(0, 0)
    return bytes(value).decode()


@pytest.mark.postgres
def test_the_outcome_writer_does_not_wait_for_the_flush_unless_told_and_resets_its_session() -> (
    None
):
    """``mail.ledger_flush = false`` (the default): the writer's commits return before the
    WAL flush (``synchronous_commit = off`` on its own sessions only); the session goes back
    to the pool as it came, so no other statement of the process is written that way.
    ``flush=True`` leaves the server's setting alone. The outcome statement is prepared per
    session and deallocated when the writer closes."""
    store, edition, outcomes = _four_sent_outcomes_on_postgres()
    try:
        quick = store.deliveries.writer("w1", flush=False)
        assert quick.record(outcomes[:2], NOW, settle=False) == 2
        assert _setting(quick._pgconn, "synchronous_commit") == "off"
        pid = quick._pgconn.backend_pid
        quick.close()
        for _ in range(store.engine.pool.size() + 2):  # find that session in the pool
            with store.engine.connect() as conn:
                if conn.connection.driver_connection.info.backend_pid == pid:  # type: ignore[union-attr]
                    assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
                    # ... and without the writer's prepared statement: the next writer on
                    # this session prepares it under the same name.
                    names = "SELECT name FROM pg_prepared_statements"
                    assert (
                        "publisher_record_outcomes"
                        not in conn.exec_driver_sql(names).scalars().all()
                    )
                    break
        else:
            pytest.fail("the writer's session did not go back to the pool")
        careful = store.deliveries.writer("w1", flush=True)
        assert careful.record(outcomes[2:3], NOW, settle=False) == 1
        assert _setting(careful._pgconn, "synchronous_commit") == "on"
        careful.close()
        with_flush = store.deliveries.writer("w1", flush=False)
        assert with_flush.record(outcomes[3:], NOW) == 1  # settles: in a transaction
        with_flush.close()
        assert ledger_states(store, edition) == {"sent": 4}
    finally:
        store.close()
