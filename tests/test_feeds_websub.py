"""WebSub publish pings (W3) against a hub on loopback that speaks real HTTP."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from feeds_support import SITE, Clock, article, clock, make_settings
from localhost import free_port

from publisher.core import make_publisher
from publisher.feeds import WebSubNotifier

__all__ = ["clock"]


class Hub:
    """Records each publish request; answers with the next status of ``script`` (then 204)."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[tuple[float, dict[str, list[str]]]] = []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                with hub.lock:
                    hub.requests.append((time.monotonic(), form))
                    status = hub.script.pop(0) if hub.script else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def topics(self) -> list[str]:
        with self.lock:
            return [form["hub.url"][0] for _, form in self.requests]


@pytest.fixture
def hub() -> Iterator[Hub]:
    server = Hub()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_w3_each_changed_feed_is_pinged_as_its_own_topic(
    tmp_path: Path, clock: Clock, hub: Hub
) -> None:
    settings = make_settings(tmp_path / "p", hubs=[hub.url], hub_retry_seconds=0.05)
    pub = make_publisher(settings, clock=clock, create=True)
    try:
        pub.store_article(article(1))
        assert pub._services.websub.wait(10)
    finally:
        pub.close()
    forms = [form for _, form in hub.requests]
    assert all(form["hub.mode"] == ["publish"] for form in forms)
    assert sorted(hub.topics()) == sorted(
        f"{SITE}/feeds/{rel}"
        for rel in (
            "rss.xml", "atom.xml", "feed.json",
            "category/local/rss.xml", "category/local/atom.xml", "category/local/feed.json",
        )
    )  # fmt: skip


def test_w3_failed_pings_are_retried_with_growing_delays(hub: Hub) -> None:
    hub.script = [503, 500, 502]
    notifier = WebSubNotifier((hub.url,), attempts=5, base_delay=0.1)
    try:
        notifier.notify([f"{SITE}/feeds/atom.xml"])
        assert notifier.wait(10)
    finally:
        notifier.close()
    assert notifier.delivered == [(hub.url, f"{SITE}/feeds/atom.xml")]
    times = [t for t, _ in hub.requests]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.07 and gaps[2] > gaps[0] * 2  # 0.1, 0.2, 0.4 s, with jitter


def test_w3_a_hub_that_is_down_never_blocks_or_fails_publishing(
    tmp_path: Path, clock: Clock
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    settings = make_settings(tmp_path / "p", hubs=[dead], hub_attempts=2, hub_retry_seconds=0.05)
    pub = make_publisher(settings, clock=clock, create=True)
    try:
        started = time.monotonic()
        pub.store_article(article(1))
        assert time.monotonic() - started < 2
        assert (pub.feeds.out_dir / "rss.xml").exists()
        assert pub._services.websub.wait(10)
        assert len(pub._services.websub.dropped) == 6 and pub._services.websub.delivered == []
    finally:
        pub.close()
