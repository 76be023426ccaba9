"""``publisher serve`` tried from outside: proxies, slow clients, Host headers, timing.

A real ``publisher serve`` process on loopback (uvicorn, the app, the worker) and a real
SMTP server (aiosmtpd) that takes two seconds per message.

* Proxy headers are believed only from ``web.trusted_proxies`` (none by default): the
  server used to trust ``X-Forwarded-For`` from 127.0.0.1, so anything on the host could
  pick the address the subscribe rate limit counts.
* The server runs uvicorn's httptools protocol (C parser) with our guards on it:
  half-open requests (head or body) are cut after ``web.request_timeout``; request heads
  over 16 KiB are answered 431 and closed, also when one endless header line is still
  growing; idle keep-alive connections close after ``web.keep_alive_seconds``;
  connections are capped by ``web.max_connections``.
* The trailing-slash redirect is built from ``site.url``, not from the Host header.
* Subscribing answers at once and does not hold the next request on the connection
  while the confirmation mail is sent (its delay told whether the address was new).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from localhost import free_port
from test_serve import Serve, poll
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from webkit import KEY, StarletteClient, TestClient, make_settings, seed_articles

from publisher.cli import main
from publisher.core import make_publisher
from publisher.delivery import MemoryTransport
from publisher.web import create_app
from publisher.web.server import GuardedProtocol, server_config

pytestmark = pytest.mark.slow
SMTP_DELAY = 2.0


class SlowSmtp:
    """Accepts every message after :data:`SMTP_DELAY` seconds; keeps the recipients."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(SMTP_DELAY)
        self.received.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SlowSmtp, int]]:
    handler = SlowSmtp()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def serve(project: Path, smtp: tuple[SlowSmtp, int]) -> Iterator[Serve]:
    env = {
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(smtp[1]),
        "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
        "PUBLISHER_WEB__SUBSCRIBE_PER_MINUTE": "2",
        "PUBLISHER_WEB__REQUEST_TIMEOUT": "1",
        "PUBLISHER_WEB__MAX_CONNECTIONS": "20",
        "PUBLISHER_WEB__KEEP_ALIVE_SECONDS": "1",
        "PUBLISHER_SECRET_KEY": KEY,
    }
    result = CliRunner().invoke(main, ["--root", str(project), "init"], env=env)
    assert result.exit_code == 0, result.output
    server = Serve(project, env, "--no-scheduler", "--no-worker")
    server.wait_ready()
    yield server
    server.kill()


def _subscribe(serve: Serve, email: str, **headers: str) -> int:
    response = httpx.post(f"{serve.url}/subscribe", json={"email": email}, headers=headers)
    return response.status_code


def test_forwarded_headers_from_localhost_are_not_believed_by_default(serve: Serve) -> None:
    answers = [
        _subscribe(serve, "a@example.org", **{"X-Forwarded-For": "198.51.100.1"}),
        _subscribe(serve, "b@example.org", **{"X-Forwarded-For": "198.51.100.2"}),
        _subscribe(serve, "c@example.org", Forwarded="for=198.51.100.3"),
    ]
    assert answers == [202, 202, 429]


def test_half_open_requests_are_cut_and_connections_capped(serve: Serve) -> None:
    sockets = []
    for _ in range(25):
        sock = socket.create_connection(("127.0.0.1", serve.port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: news.example.org\r\nX-Slow: ")
        sockets.append(sock)
    try:
        time.sleep(0.3)
        assert httpx.get(f"{serve.url}/healthz").status_code == 503  # over 20 connections
        time.sleep(2.0)  # request_timeout is 1 s
        for sock in sockets:
            sock.settimeout(2.0)
            assert sock.recv(1024) == b"", "a half-open request was still held"
        assert httpx.get(f"{serve.url}/healthz").status_code == 200
    finally:
        for sock in sockets:
            sock.close()


def test_serve_runs_the_httptools_protocol_with_the_guards(project: Path) -> None:
    """What the guards below are tested on is what ``serve`` runs (not uvicorn's h11)."""
    settings = make_settings(project, f"sqlite:///{project / 'var' / 'proto.db'}")
    config = server_config(create_app(make_publisher(settings, create=True)), settings, "h", 1)
    assert issubclass(config.http, HttpToolsProtocol)  # type: ignore[arg-type]
    assert issubclass(config.http, GuardedProtocol)  # type: ignore[arg-type]


def _exchange(port: int, *parts: bytes, pause: float = 0.0) -> bytes:
    """Send ``parts`` (with ``pause`` between them), then read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            for part in parts:
                sock.sendall(part)
                time.sleep(pause)
        except OSError:  # the server closed while we were still sending
            pass
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_request_heads_over_16_kib_are_refused_and_closed(serve: Serve) -> None:
    start = b"GET /healthz HTTP/1.1\r\nHost: news.example.org\r\n"
    small = start + b"X-Pad: " + b"a" * 15_000 + b"\r\nConnection: close\r\n\r\n"
    assert _exchange(serve.port, small).startswith(b"HTTP/1.1 200 ")
    many = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(20))
    answer = _exchange(serve.port, start + many + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")
    # One header line that never ends, sent in pieces: refused as it passes the limit,
    # long before request_timeout (the reply arrives while we are still sending).
    started = time.monotonic()
    answer = _exchange(serve.port, start + b"X-Long: ", *([b"b" * 2048] * 12), pause=0.02)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert time.monotonic() - started < 0.9


def test_slow_bodies_are_cut_and_idle_keep_alive_connections_closed(serve: Serve) -> None:
    head = (
        b"POST /subscribe HTTP/1.1\r\nHost: news.example.org\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    started = time.monotonic()
    assert _exchange(serve.port, head) == b""  # the body never came: cut, not answered
    assert 0.8 < time.monotonic() - started < 3.0  # request_timeout is 1 s
    request = b"GET /healthz HTTP/1.1\r\nHost: news.example.org\r\n\r\n"
    started = time.monotonic()
    answer = _exchange(serve.port, request)  # answered, then held idle until keep-alive ends
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert 0.8 < time.monotonic() - started < 3.0  # keep_alive_seconds is 1


def test_redirects_are_built_from_the_site_url_not_the_host_header(serve: Serve) -> None:
    response = httpx.get(f"{serve.url}/feeds", headers={"Host": "evil.example"})
    assert response.status_code in (301, 307, 308)
    assert response.headers["location"] == "https://news.example.org/feeds/"


def test_subscribing_answers_at_once_and_frees_the_connection(
    serve: Serve, smtp: tuple[SlowSmtp, int]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=10)
    body = json.dumps({"email": "new@example.org"})
    started = time.monotonic()
    conn.request("POST", "/subscribe", body, {"Content-Type": "application/json"})
    first = conn.getresponse()
    first.read()
    answered = time.monotonic()
    conn.request("GET", "/healthz")  # the same keep-alive connection
    second = conn.getresponse()
    second.read()
    done = time.monotonic()
    conn.close()
    assert (first.status, second.status) == (202, 200)
    assert answered - started < SMTP_DELAY / 2
    assert done - answered < SMTP_DELAY / 2, "the next request waited for the mail"
    poll(lambda: smtp[0].received == ["new@example.org"], timeout=10)


def test_the_mail_work_is_off_the_request_cycle(project: Path, smtp: tuple[SlowSmtp, int]) -> None:
    """The app's call for a subscribe ends before the mail is sent (a background task kept
    it running, holding whatever the server ties to it, for as long as the mail took)."""
    settings = make_settings(
        project,
        f"sqlite:///{project / 'var' / 'timing.db'}",
        PUBLISHER_MAIL__TRANSPORT="smtp",
        PUBLISHER_SMTP__HOST="127.0.0.1",
        PUBLISHER_SMTP__PORT=str(smtp[1]),
    )
    publisher = make_publisher(settings, create=True)
    seed_articles(publisher)
    try:
        with StarletteClient(create_app(publisher)) as client:
            timings = []
            for email in ("new@example.org", "new@example.org"):  # new, then known
                started = time.monotonic()
                assert client.post("/subscribe", json={"email": email}).status_code == 202
                timings.append(time.monotonic() - started)
            assert max(timings) < SMTP_DELAY / 2, timings
            poll(lambda: smtp[0].received == ["new@example.org"], timeout=10)
    finally:
        publisher.close()


# --- the app alone: which proxy headers are believed -------------------------------------


def _app_client(project: Path, **env: str) -> TestClient:
    settings = make_settings(
        project,
        f"sqlite:///{project / 'var' / 'proxy.db'}",
        PUBLISHER_WEB__SUBSCRIBE_PER_MINUTE="1",
        **env,
    )
    publisher = make_publisher(settings, transport=MemoryTransport(), create=True)
    seed_articles(publisher)
    return TestClient(create_app(publisher), client=("10.0.0.5", 40000))


def _statuses(client: TestClient, headers: list[dict[str, str]]) -> list[int]:
    return [
        client.post("/subscribe", json={"email": f"r{n}@example.org"}, headers=h).status_code
        for n, h in enumerate(headers)
    ]


def test_a_trusted_proxy_names_the_client_with_either_header(project: Path) -> None:
    with _app_client(project, PUBLISHER_WEB__TRUSTED_PROXIES="10.0.0.0/8") as client:
        assert _statuses(
            client,
            [
                {"X-Forwarded-For": "198.51.100.1"},
                {"X-Forwarded-For": "203.0.113.9, 198.51.100.2, 10.0.0.7"},
                {"Forwarded": 'for="[2001:db8::1]:4711";proto=https'},
                {"Forwarded": "for=192.0.2.60;proto=http, for=10.0.0.9"},
                {"X-Forwarded-For": "198.51.100.1"},  # the first client again: limited
            ],
        ) == [202, 202, 202, 202, 429]


def test_an_untrusted_peer_cannot_choose_its_address(project: Path) -> None:
    with _app_client(project, PUBLISHER_WEB__TRUSTED_PROXIES="192.168.0.1") as client:
        assert _statuses(
            client, [{"X-Forwarded-For": "198.51.100.1"}, {"Forwarded": "for=198.51.100.2"}]
        ) == [202, 429]
