"""How ``publisher serve`` runs the web app: uvicorn with limits a public server needs.

* A client has ``web.request_timeout`` seconds to send a whole request, head and body,
  counted from its first byte (or from the connection, for the first request). uvicorn
  has no such timer: a connection that sent half a head was held forever, and a few
  hundred of them held the server. The timer is added to uvicorn's HTTP/1.1 protocol.
* An idle keep-alive connection closes after ``web.keep_alive_seconds``.
* At most ``web.max_connections`` connections: above it, requests are answered 503.
* uvicorn's own proxy-header handling is off (it trusts 127.0.0.1 by default); the app
  trusts only ``web.trusted_proxies`` (see :class:`publisher.web.security.TrustedProxies`).
* Request heads over 16 KiB are refused by h11 (431/400) before reaching the app.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from publisher.config import Settings

log = logging.getLogger("publisher.serve")
MAX_HEAD_BYTES = 16 * 1024


class _RequestTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for receiving each whole request."""

    request_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
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
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info("closed a connection from %s: request not received in time", self.client)
            self.transport.close()


def protocol_with_timeout(seconds: float) -> type[H11Protocol]:
    """The protocol class with its deadline (uvicorn builds one instance per connection)."""
    return type("RequestTimeoutProtocol", (_RequestTimeoutProtocol,), {"request_timeout": seconds})


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration of the service (the limits above, in one place)."""
    web = settings.web
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": True,
        "http": protocol_with_timeout(web.request_timeout),
        "proxy_headers": False,
        "timeout_keep_alive": web.keep_alive_seconds,
        "limit_concurrency": web.max_connections,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "server_header": False,
    }
    return uvicorn.Config(app, **options)
