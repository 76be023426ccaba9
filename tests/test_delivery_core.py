"""The Publisher's delivery wiring: transports from settings, the worker loop in a thread."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import PublisherFactory
from ledger_helpers import NOW, add_edition, add_subscribers, make_message, message_id_for
from smtp_counter import CountingServer

from publisher.core import MemoryTransport
from publisher.core.transports import transport_factory
from publisher.delivery import OutboxTransport, SmtpTransport
from publisher.store import Store
from publisher.types import ArticleInput, Category, Frequency, SubscriberStatus


def plan(store: Store, count: int) -> int:
    edition = add_edition(store)
    store.deliveries.create(edition, [(i, None) for i in add_subscribers(store, count)], NOW)
    return edition


def test_outbox_transport_writes_one_file_per_message(
    project: Path, store: Store, make_pub: PublisherFactory
) -> None:
    plan(store, 12)
    publisher = make_pub(store=store)
    assert isinstance(transport_factory(publisher.settings)(), OutboxTransport)
    report = publisher.drain(message_factory=make_message)
    assert report.sent == 12 and report.extra["unfinished"] == 0
    files = sorted((project / "var" / "outbox" / "daily_2026-11-27").glob("*.eml"))
    assert len(files) == 12
    expected = message_id_for("daily/2026-11-27", 1).strip("<>")
    assert any(f.name == f"{expected}.eml" for f in files)
    assert all(not f.name.startswith(".tmp") for f in files)


def test_smtp_settings_make_pooled_connections_and_honour_the_rate(
    project: Path, store: Store, make_pub: PublisherFactory
) -> None:
    plan(store, 20)
    with CountingServer() as server:
        publisher = make_pub(
            store=store,
            PUBLISHER_MAIL__TRANSPORT="smtp",
            PUBLISHER_SMTP__HOST="127.0.0.1",
            PUBLISHER_SMTP__PORT=str(server.port),
            PUBLISHER_SMTP__CONNECTIONS="3",
            PUBLISHER_SMTP__RATE="50",
        )
        assert isinstance(transport_factory(publisher.settings)(), SmtpTransport)
        options = publisher._services.mailer.options
        assert options.connections == 3 and options.rate == 50.0
        started = time.monotonic()
        report = publisher.drain(message_factory=make_message)
        elapsed = time.monotonic() - started
    assert report.sent == 20
    assert elapsed >= 19 / 50 * 0.95  # 50 messages a second at most, across 3 connections
    assert len(server.handler.copies()) == 20


def test_worker_loop_runs_in_a_thread_and_stops_on_an_event(
    project: Path, store: Store, make_pub: PublisherFactory
) -> None:
    publisher = make_pub(store=store, PUBLISHER_MAIL__POLL_SECONDS="0.05")
    stop = threading.Event()
    reports = []
    thread = threading.Thread(
        target=lambda: reports.append(
            publisher.drain(stop, forever=True, message_factory=make_message)
        )
    )
    thread.start()
    time.sleep(0.2)
    plan(store, 8)  # work arrives while the worker idles
    deadline = time.monotonic() + 10
    while publisher._services.mailer.unfinished_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert reports[0].sent == 8
    [status] = publisher.delivery_status("daily/2026-11-27")
    assert status.counts["sent"] == 8 and status.unfinished == 0


def test_each_reader_gets_the_variant_of_their_categories(
    project: Path, store: Store, make_pub: PublisherFactory
) -> None:
    """The digest through the sender: a reader's categories pick the articles they get."""
    now = datetime.now(UTC)
    memory = MemoryTransport()
    publisher = make_pub(store=store, transport=memory)
    for title, slug in (("Harbour dredging starts", "local"), ("Harriers win", "sport")):
        publisher.store_article(
            ArticleInput(
                title=title,
                content_html=f"<p>{title}.</p>",
                published_at=now - timedelta(hours=1),
                categories=(Category(slug, slug.title()),),
            )
        )
    active = SubscriberStatus.ACTIVE
    store.subscribers.add("all@example.org", status=active)
    store.subscribers.add("local@example.org", status=active, categories=["local"])
    store.subscribers.add("sport@example.org", status=active, categories=["sport"])
    store.subscribers.add("arts@example.org", status=active, categories=["arts"])
    report = publisher.send_digest(Frequency.DAILY)
    assert report.sent == 3  # arts matches nothing in this edition: no row, no message
    sent = {m.recipient: m.data for m in memory.sent}
    assert set(sent) == {"all@example.org", "local@example.org", "sport@example.org"}
    assert b"Harbour dredging" in sent["local@example.org"]
    assert b"Harriers win" not in sent["local@example.org"]
    assert b"Harriers win" in sent["sport@example.org"]
    assert b"Harbour dredging" not in sent["sport@example.org"]
    assert (
        b"Harbour dredging" in sent["all@example.org"]
        and b"Harriers win" in sent["all@example.org"]
    )
    assert publisher.send_digest(Frequency.DAILY).sent == 0  # run again: nothing new


def test_an_edition_without_articles_sends_nothing_and_says_so(
    project: Path, store: Store, make_pub: PublisherFactory
) -> None:
    publisher = make_pub(store=store, transport=MemoryTransport())
    store.subscribers.add("reader@example.org", status=SubscriberStatus.ACTIVE)
    report = publisher.send_digest(Frequency.DAILY)
    assert report.sent == 0 and report.extra["skipped"] == 1
    (status,) = publisher.delivery_status()  # listed, with its state, and no rows
    assert status.state == "skipped" and status.total == 0
