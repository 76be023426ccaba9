"""The sender's SMTP lanes on one event loop (``publisher/delivery/smtp_loop.py``).

Real aiosmtpd servers on loopback: plain, STARTTLS and implicit TLS, messages large
enough that a non-blocking write stops part-way, a relay that stops answering, and
connections that die between batches. The rules the loop must keep are the blocking
transport's: every message once, a timeout defers only the message it hit, a dead idle
connection is replaced without losing a message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import socket
import sqlite3
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim
import pytest
from aiosmtpd.controller import Controller
from certs import self_signed
from cryptography.hazmat.primitives import serialization
from digest_support import make_dkim_key
from ledger_helpers import NOW, add_edition, add_subscribers, ledger_states, make_message
from localhost import free_port
from scripted_smtp import ScriptedServer
from smtp_counter import CountingHandler, CountingServer, Faults

from publisher.delivery import Sender, SenderOptions, SmtpOptions, SmtpTransport
from publisher.delivery.signing_process import SigningError
from publisher.digest import DkimSigner, load_signer
from publisher.exceptions import PermanentDeliveryError, StoreError
from publisher.store import Store, open_store
from publisher.types import ClaimedDelivery, OutgoingMessage

BIG = 3_000_000  # larger than a loopback socket takes in one write


def _sized(claim: ClaimedDelivery) -> OutgoingMessage:
    """Every fifth reader's message is 3 MB: the loop writes it in several steps."""
    message = make_message(claim)
    if claim.subscriber_id % 5:
        return message
    filler = b"".join(b"line %07d of a long article\r\n" % n for n in range(BIG // 30))
    head, _, body = message.data.partition(b"\r\n\r\n")
    data = head + b"\r\n\r\n" + filler + body
    return OutgoingMessage(
        message.sender, message.recipient, message.message_id, data, message.edition_key
    )


def _body_digest(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n").rstrip(b"\n")).hexdigest()


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_every_message_arrives_once_and_whole_over_plain_starttls_and_tls(
    store: Store, security: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, pem = self_signed("127.0.0.1", ip="127.0.0.1")
    cert, private = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(pem)
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this server only
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, private)
    handler = CountingHandler(Faults(pipelining=True), keep=True)
    port = free_port()
    tls = {
        "none": {},
        "starttls": {"tls_context": server_tls, "require_starttls": True},
        "tls": {"ssl_context": server_tls},
    }[security]
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, data_size_limit=10 * BIG, **tls
    )
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 40)], NOW)
    options = SmtpOptions("127.0.0.1", port, security=security, timeout=10)
    controller.start()
    try:
        sender = Sender(
            store.deliveries,
            lambda: SmtpTransport(options),
            _sized,
            SenderOptions(batch_size=15, connections=3),
        )
        tally = sender.run()
    finally:
        controller.stop()
    assert tally.sent == 40 and ledger_states(store, edition) == {"sent": 40}
    assert set(handler.copies().values()) == {1} and len(handler.copies()) == 40
    big = [data for _, data in handler.messages if len(data) > BIG]
    assert len(big) == 8
    wanted = {_body_digest(_sized(c).data) for c in _claims(store, edition)}
    assert {_body_digest(data) for _, data in handler.messages} == wanted


def test_an_edition_whose_deferred_rows_are_retried_within_the_send_is_settled(
    sqlite_store: Store,
) -> None:
    """A fifth of the messages get a 4xx on their first try and are deferred; they come
    due while the send goes on and are claimed again (into the running loop, with the
    batch claimed ahead). The edition's last outcome, whichever row it is, settles it:
    `sent`, not left `sending` with every row final."""
    store = sqlite_store
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 60)], NOW)
    with CountingServer(Faults(temporary=0.2)) as server:
        options = SmtpOptions("127.0.0.1", server.port, timeout=5)
        tally = Sender(
            store.deliveries,
            lambda: SmtpTransport(options),
            make_message,
            SenderOptions(batch_size=10, connections=2, retry_base_seconds=0.02),
        ).run()
    assert server.handler.played["4xx"] >= 5
    assert tally.sent == 60 and ledger_states(store, edition) == {"sent": 60}
    settled = store.editions.get("daily/2026-11-27")
    assert settled.status == "sent"
    assert settled.final_counts is not None and settled.final_counts["sent"] == 60


def _claims(store: Store, edition: int) -> list[ClaimedDelivery]:
    return [
        ClaimedDelivery(r["id"], edition, "daily/2026-11-27", r["subscriber_id"], r["email"], "")
        for r in store.deliveries.rows(edition)
    ]


def test_a_relay_that_stops_answering_defers_only_the_messages_it_holds(
    sqlite_store: Store,
) -> None:
    """A quarter of the messages get no answer after their data: each is dropped after
    ``smtp.timeout`` (counted from the last bytes exchanged) and tried again later, while
    the other connections keep sending; nothing waits for the silent ones."""
    store = sqlite_store
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 40)], NOW)
    with CountingServer(Faults(slow=0.25, delay=3.0)) as server:
        options = SmtpOptions("127.0.0.1", server.port, timeout=0.4)
        started = time.monotonic()
        Sender(
            store.deliveries,
            lambda: SmtpTransport(options),
            make_message,
            SenderOptions(batch_size=10, connections=4, max_attempts=2, retry_base_seconds=0.05),
        ).run()
        elapsed = time.monotonic() - started
    rows = store.deliveries.rows(edition)
    silent = [r for r in rows if r["state"] == "failed"]
    assert 4 <= len(silent) <= 18  # the fraction is chosen by Message-ID
    assert all(r["attempts"] == 2 and "timed out" in r["reply"] for r in silent)
    assert all(r["state"] == "sent" and r["attempts"] == 1 for r in rows if r not in silent)
    assert elapsed < 20  # two timeouts per silent message, spread over four connections


def test_connections_the_server_closes_between_messages_are_replaced_without_losing_one(
    sqlite_store: Store,
) -> None:
    """The server closes a connection after its reply to every fifth message it accepts
    (as a restart or an idle timeout does); the next message on that connection finds it
    gone (end of stream while idle, or a failed MAIL FROM) and goes out on a new one,
    once, without a try charged."""
    store = sqlite_store
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 40)], NOW)
    transports: list[SmtpTransport] = []
    with CountingServer(Faults(close_every=5)) as server:
        options = SmtpOptions("127.0.0.1", server.port, timeout=5)

        def make() -> SmtpTransport:
            transports.append(SmtpTransport(options))
            return transports[-1]

        sender = Sender(
            store.deliveries,
            make,
            make_message,
            SenderOptions(batch_size=10, connections=2, retry_base_seconds=0.05),
        )
        tally = sender.run()
    assert server.handler.played["closed"] == 8
    assert tally.sent == 40 and ledger_states(store, edition) == {"sent": 40}
    assert {r["attempts"] for r in store.deliveries.rows(edition)} == {1}  # none deferred
    assert set(server.handler.copies().values()) == {1}
    assert sum(t.connects for t in transports) >= 2 + 7  # a new one after each close


def _loop_sender(
    store: Store,
    server: CountingServer,
    build: Callable[[ClaimedDelivery], OutgoingMessage],
    batch_size: int,
    signer: DkimSigner | None,
) -> Sender:
    """A sender on the event loop (two connections) into ``server``; with ``signer``,
    its messages' signatures come from the signing child."""
    options = SmtpOptions("127.0.0.1", server.port, timeout=5)
    return Sender(
        store.deliveries,
        lambda: SmtpTransport(options),
        build,
        SenderOptions(batch_size=batch_size, connections=2),
        signer=signer,
    )


def _signed(message: OutgoingMessage, signer: DkimSigner) -> OutgoingMessage:
    return dataclasses.replace(message, data=signer.sign(message.data))


@pytest.mark.parametrize("signed", [False, True])
def test_on_the_loop_an_unbuildable_row_fails_alone_and_a_stop_gives_the_rest_back(
    sqlite_store: Store, signed: bool, tmp_path: Path
) -> None:
    """A row whose message cannot be built (nothing in the edition for the reader any
    more) fails alone and the others go out once; a stop mid-batch lets the messages in
    flight finish and gives every row not started back to the ledger, untried.

    Signed, the loop builds rows ahead and a child process signs them
    (``delivery/build_ahead.py``): a row built but not sent when the stop comes goes back
    too, a row that could not be built fails alone at its turn, and every message that
    arrives carries a signature dkimpy verifies."""
    store = sqlite_store
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 90)], NOW)
    stop = threading.Event()
    built = itertools.count(1)
    key, record = make_dkim_key(tmp_path)
    signer = load_signer(key, "mail", "", "digest@example.org") if signed else None

    def build(claim: ClaimedDelivery) -> OutgoingMessage:
        if next(built) == 45:
            stop.set()  # mid-batch, from the loop itself
        if claim.subscriber_id % 7 == 0:
            raise PermanentDeliveryError("nothing in the edition for this reader any more")
        message = make_message(claim)
        return message if signer is None else _signed(message, signer)

    with CountingServer(keep=True) as server:
        sender = _loop_sender(store, server, build, 30, signer)
        first = sender.run(stop)
        states = ledger_states(store, edition)
        tried = first.sent + first.failed
        assert states.get("claimed", 0) == 0 and states["pending"] == 90 - tried
        # Built ahead, the 45th build comes before the 45th row is taken by the loop.
        assert tried == 45 if not signed else 20 <= tried <= 45
        rest = sender.run()
    rows = store.deliveries.rows(edition)
    unbuildable = {r["subscriber_id"] for r in rows if r["subscriber_id"] % 7 == 0}
    assert {r["subscriber_id"] for r in rows if r["state"] == "failed"} == unbuildable
    assert first.sent + rest.sent == 90 - len(unbuildable)
    copies = server.handler.copies()
    assert len(copies) == 90 - len(unbuildable) and set(copies.values()) == {1}
    if signed:

        def lookup(name: bytes, timeout: int = 5) -> bytes:
            return record.encode("ascii")

        for rcpt, data in server.handler.messages:
            assert data.startswith(b"DKIM-Signature:"), rcpt
            assert dkim.DKIM(data).verify(dnsfunc=lookup), rcpt


def test_a_relay_that_refuses_at_its_greeting_fails_each_message_and_the_run_ends(
    sqlite_store: Store,
) -> None:
    """A 554 greeting is a refusal of the message being sent (as the blocking transport
    reads it), not an error that stops the run with messages in flight."""
    store = sqlite_store
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 3)], NOW)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stopped = threading.Event()

    def refuse() -> None:
        listener.settimeout(0.1)
        while not stopped.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"554 5.7.1 no mail service here\r\n")

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    try:
        options = SmtpOptions("127.0.0.1", port, timeout=5)
        tally = Sender(
            store.deliveries,
            lambda: SmtpTransport(options),
            make_message,
            SenderOptions(batch_size=10, connections=2),
        ).run()
    finally:
        stopped.set()
        thread.join(5)
        listener.close()
    assert tally.failed == 3 and ledger_states(store, edition) == {"failed": 3}
    assert all("554" in r["reply"] for r in store.deliveries.rows(edition))


def test_a_signing_process_that_dies_mid_send_stops_it_and_nothing_leaves_unsigned(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """The child that makes a signed send's signatures is killed mid-batch: the send stops
    with a one-line error naming it, the messages already sent are recorded, every row not
    sent goes back to the ledger untried (none stays claimed), no message arrives without
    its signature, and a rerun (a new child) sends the rest once."""
    store = sqlite_store
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, 60)], NOW)
    key, _record = make_dkim_key(tmp_path)
    signer = load_signer(key, "mail", "", "digest@example.org")
    built = itertools.count(1)
    sender: Sender | None = None

    def build(claim: ClaimedDelivery) -> OutgoingMessage:
        if next(built) == 30 and sender is not None and sender._ahead is not None:
            child = sender._ahead._process._child
            child.kill()
            child.wait()
        return _signed(make_message(claim), signer)

    with CountingServer(keep=True) as server:
        sender = _loop_sender(store, server, build, 20, signer)
        with pytest.raises(SigningError, match=r"^the DKIM signing process ended \(exit"):
            sender.run()
        states = ledger_states(store, edition)
        assert states.get("claimed", 0) == 0
        sent_first = states.get("sent", 0)
        assert 0 < sent_first < 60 and states["pending"] == 60 - sent_first
        sender.run()
    assert ledger_states(store, edition) == {"sent": 60}
    copies = server.handler.copies()
    assert len(copies) == 60 and set(copies.values()) == {1}
    assert all(data.startswith(b"DKIM-Signature:") for _, data in server.handler.messages)


def _file_store(path: Path, readers: int) -> Store:
    """A SQLite file store with an edition whose ledger has a row for each of ``readers``."""
    store = open_store(f"sqlite:///{path}", "https://news.example.org", create=True)
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, readers)], NOW)
    return store


def _sent_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(
            conn.execute("SELECT count(*) FROM deliveries WHERE state = 'sent'").fetchone()[0]
        )


def test_while_the_ledger_stalls_the_bodies_go_out_and_the_server_accepts_no_more(
    tmp_path: Path,
) -> None:
    """The repeat bound holds the end-of-data dot, not the whole message.

    Another process holds the SQLite file's write lock for a second, mid-send: the
    sender's commits wait. Each connection goes on to write its next message up to the
    final dot (the server has its envelope), but the server accepts at most
    ``unrecorded`` messages per connection that the ledger does not know, which is what
    a kill at that moment would repeat. When the lock goes, the held dots go out and
    every reader gets exactly one copy."""
    path = tmp_path / "store.db"
    store = _file_store(path, 60)
    seen: dict[str, int] = {}
    locked = threading.Event()
    built = itertools.count(1)

    def stall() -> None:
        with sqlite3.connect(path, isolation_level=None) as blocker:
            blocker.execute("BEGIN IMMEDIATE")  # what a long write elsewhere does
            locked.set()
            time.sleep(1.0)
            with server.handler.lock:
                seen["accepted"] = len(server.handler.received)
                seen["begun"] = sum(server.handler.rcpts.values())
            seen["recorded"] = int(
                blocker.execute("SELECT count(*) FROM deliveries WHERE state = 'sent'").fetchone()[
                    0
                ]
            )
            blocker.execute("COMMIT")

    def build(claim: ClaimedDelivery) -> OutgoingMessage:
        if next(built) == 20:
            threading.Thread(target=stall, daemon=True).start()
            locked.wait(5)
        return make_message(claim)

    try:
        with CountingServer(Faults(pipelining=True)) as server:
            options = SmtpOptions("127.0.0.1", server.port, timeout=5)
            tally = Sender(
                store.deliveries,
                lambda: SmtpTransport(options),
                build,
                SenderOptions(batch_size=60, connections=3, unrecorded=2),
            ).run()
        copies = server.handler.copies()
    finally:
        store.close()
    assert tally.sent == 60 and len(copies) == 60 and set(copies.values()) == {1}
    assert _sent_rows(path) == 60
    # Stalled: beyond what the ledger recorded, two accepted messages per connection at most...
    assert 0 <= seen["accepted"] - seen["recorded"] <= 3 * 2, seen
    # ...while each connection's next message was already begun, waiting for its dot.
    assert seen["begun"] - seen["accepted"] == 3, seen


def test_a_ledger_that_fails_mid_send_gets_no_held_message_delivered(tmp_path: Path) -> None:
    """A message waiting for its dot when the ledger fails is never delivered.

    A trigger (another writer's rule, not the sender's) refuses to record a sixth sent
    row. The sender stops with the ledger's one-line error. Its connections that had
    begun a next message close before the final dot, so the server cancels those (RFC
    5321 3.8): no copy is accepted beyond ``unrecorded`` per connection, and the rows of
    the begun messages go back to the ledger untried, to be sent by the next run."""
    path = tmp_path / "store.db"
    store = _file_store(path, 40)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER full_disk BEFORE UPDATE OF state ON deliveries "
            "WHEN NEW.state = 'sent' AND "
            "(SELECT count(*) FROM deliveries WHERE state = 'sent') >= 5 "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    try:
        with CountingServer(Faults(pipelining=True)) as server:
            options = SmtpOptions("127.0.0.1", server.port, timeout=5)
            sender = Sender(
                store.deliveries,
                lambda: SmtpTransport(options),
                make_message,
                SenderOptions(batch_size=40, connections=2, unrecorded=1),
            )
            with pytest.raises(StoreError, match=r"cannot record deliveries: .*disk is full"):
                sender.run()
            time.sleep(0.2)  # the server has seen each connection close
            accepted = server.handler.copies()
            begun = Counter(server.handler.rcpts)
        rows = {r["email"]: r for r in store.deliveries.rows(1)}  # the only edition
    finally:
        store.close()
    recorded = _sent_rows(path)
    assert recorded <= 5  # a group that would pass five is refused whole
    assert len(accepted) - recorded <= 2 * 1 and set(accepted.values()) == {1}
    held = set(begun) - set(accepted)
    assert held, "no connection had begun a next message when the ledger failed"
    for address in held:
        assert (rows[address]["state"], rows[address]["attempts"]) == ("pending", 0), address


def _rows(path: Path) -> list[dict[str, Any]]:
    """The ledger rows of the file store's only edition."""
    store = open_store(f"sqlite:///{path}", "https://news.example.org")
    try:
        return store.deliveries.rows(1)
    finally:
        store.close()


def _send_with_stalled_ledger(
    path: Path, server: ScriptedServer, build: Callable[[ClaimedDelivery], OutgoingMessage]
) -> threading.Thread:
    """Send the file store's edition into ``server`` on one connection, one unrecorded
    message at most; when the first message is built, another process takes the SQLite
    file's write lock for 0.6 s, so the first outcome is not recorded when the second
    message's dot is due: that dot is held for the ledger.
    Returns the sending thread, joined for at most 20 s."""
    locked = threading.Event()

    def stall() -> None:
        with sqlite3.connect(path, isolation_level=None) as blocker:
            blocker.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(0.6)
            blocker.execute("COMMIT")

    def stalling_build(claim: ClaimedDelivery) -> OutgoingMessage:
        if claim.subscriber_id == 1:
            threading.Thread(target=stall, daemon=True).start()
            locked.wait(5)
        return build(claim)

    store = open_store(f"sqlite:///{path}", "https://news.example.org")
    options = SmtpOptions("127.0.0.1", server.port, timeout=1.0)
    sender = Sender(
        store.deliveries,
        lambda: SmtpTransport(options),
        stalling_build,
        SenderOptions(batch_size=10, connections=1, unrecorded=1, max_attempts=1),
    )

    def run() -> None:
        try:
            sender.run()
        finally:
            store.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    return thread


def test_a_body_the_server_stops_reading_times_out_even_while_its_dot_waits(
    tmp_path: Path,
) -> None:
    """The second message (30 MB) waits for the ledger before its dot, and the server
    stops reading its body half-way. Once the ledger has caught up the lane is still
    writing: ``smtp.timeout`` (1 s) from the last bytes written ends it as it ends any
    stalled write (the message fails: one attempt allowed here); the send goes on and
    ends, and no other reader is affected."""
    path = tmp_path / "store.db"
    _file_store(path, 5).close()

    def huge_second(claim: ClaimedDelivery) -> OutgoingMessage:
        message = make_message(claim)
        if claim.subscriber_id != 2:
            return message
        filler = b"x" * 70 + b"\r\n"
        head, _, body = message.data.partition(b"\r\n\r\n")
        data = head + b"\r\n\r\n" + filler * (30_000_000 // 72) + body
        return dataclasses.replace(message, data=data)

    with ScriptedServer(lambda n: "stall" if n == 2 else "ok") as server:
        sending = _send_with_stalled_ledger(path, server, huge_second)
        assert not sending.is_alive(), "the send hung on a stalled body"
        accepted = sorted(server.accepted)
    rows = {r["subscriber_id"]: r for r in _rows(path)}
    assert (rows[2]["state"], rows[2]["attempts"]) == ("failed", 1)
    assert "timed out" in rows[2]["reply"]
    assert accepted == [f"reader{n}@example.org" for n in (0, 2, 3, 4)]
    assert all(rows[i]["state"] == "sent" for i in (1, 3, 4, 5))


def test_a_connection_closed_while_only_the_dot_waits_costs_the_message_no_try(
    tmp_path: Path,
) -> None:
    """The server closes the connection right after its 354 while the second message's
    dot waits for the ledger. The server accepted nothing, so the message is not charged
    a try: it goes again on a new connection, and every reader gets one copy."""
    path = tmp_path / "store.db"
    _file_store(path, 5).close()
    with ScriptedServer(lambda n: "close" if n == 2 else "ok") as server:
        sending = _send_with_stalled_ledger(path, server, make_message)
        assert not sending.is_alive()
        copies = Counter(server.accepted)
    rows = _rows(path)
    assert len(copies) == 5 and set(copies.values()) == {1}
    assert [(r["state"], r["attempts"]) for r in rows] == [("sent", 1)] * 5
