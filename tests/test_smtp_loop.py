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
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from aiosmtpd.controller import Controller
from certs import self_signed
from cryptography.hazmat.primitives import serialization
from digest_support import make_dkim_key
from ledger_helpers import NOW, add_edition, add_subscribers, ledger_states, make_message
from localhost import free_port
from smtp_counter import CountingHandler, CountingServer, Faults

from publisher.delivery import Sender, SenderOptions, SmtpOptions, SmtpTransport
from publisher.delivery.signing_process import SigningError
from publisher.digest import DkimSigner, load_signer
from publisher.exceptions import PermanentDeliveryError
from publisher.store import Store
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
