"""How ``publisher serve`` runs the web app: uvicorn (httptools, uvloop) with limits a
public server needs.

uvicorn's httptools protocol parses requests in C (llhttp) and is several times cheaper per
request than its h11 protocol, but it has neither a deadline for a request nor a limit on
the size of a request head. Both are added here, so every guard below holds on the
protocol ``serve`` actually runs:

* A client has ``web.request_timeout`` seconds to send a whole request, head and body,
  counted from its first byte (or from the connection, for the first request). Without
  it a connection that sent half a head was held forever, and a few hundred of them held
  the server.
* A request head over 16 KiB (:data:`MAX_HEAD_BYTES`: request line and header fields) is
  answered 431 and the connection closed, before the app sees it. Counted twice: the raw
  bytes received while a head is incomplete (one endless header line is refused as it
  grows, not when it ends) and the parsed fields of a head that completed in one read.
* An idle keep-alive connection closes after ``web.keep_alive_seconds`` (uvicorn).
* At most ``web.max_connections`` connections: above it, requests are answered 503
  (uvicorn).
* uvicorn's own proxy-header handling is off (it trusts 127.0.0.1 by default); the app
  trusts only ``web.trusted_proxies`` (see :class:`publisher.web.security.TrustedProxies`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from publisher.config import Settings

log = logging.getLogger("publisher.serve")
MAX_HEAD_BYTES = 16 * 1024
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 29\r\n"
    b"connection: close\r\n\r\nrequest head over 16384 bytes"
)


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools re-raises it as the context of its error."""


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline per request and a head-size limit."""

    request_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # between messages counts as "a head may be starting"
        self._between = True
        self._head_bytes = 0
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def data_received(self, data: bytes) -> None:
        self._arm()  # the first byte of a request on a kept-alive connection
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse_head()
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._refuse_head()
        elif self._between:
            self._disarm()

    def _refuse_head(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            log.info("closed a connection from %s: request head too large", self.client)
            self.transport.write(TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        self._between = False
        self._head_size = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD_BYTES:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = self._between = True
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closed a connection from %s: request not received in time", self.client)
            self.transport.close()


def protocol_with_timeout(seconds: float) -> type[GuardedProtocol]:
    """The protocol class with its deadline (uvicorn builds one instance per connection)."""
    return type("GuardedProtocol", (GuardedProtocol,), {"request_timeout": seconds})


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration of the service (the limits above, in one place)."""
    web = settings.web
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": True,
        "http": protocol_with_timeout(web.request_timeout),
        "loop": "auto",  # uvloop where installed (not on Windows)
        "proxy_headers": False,
        "timeout_keep_alive": web.keep_alive_seconds,
        "limit_concurrency": web.max_connections,
        "server_header": False,
    }
    return uvicorn.Config(app, **options)
