"""The LMTP (or SMTP) receiver an MTA delivers the bounce domain to, built on aiosmtpd.

Each message is handed to ``handle(raw, recipients)`` in a worker thread (the database work
must not block the protocol loop). Replies: ``250`` once the events are stored; ``451``
when storing failed, so the MTA keeps the message and tries again (nothing is lost); never
a ``5xx`` for content, because mail we cannot read is kept as unrecognised. LMTP answers
once per recipient after DATA, as RFC 2033 requires.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from publisher.exceptions import InboundError, PublisherError

log = logging.getLogger("publisher.inbound")
Handle = Callable[[bytes, Sequence[str]], object]


class _Handler:
    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        recipients = list(envelope.rcpt_tos)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._handle, raw, recipients)
        except PublisherError as exc:
            log.warning("inbound mail not stored, the sender will retry: %s", exc)
            reply = "451 4.3.0 cannot store the message now, try again later"
        else:
            reply = "250 2.0.0 processed"
        count = len(recipients) if isinstance(server, LMTP) else 1
        return "\r\n".join([reply] * max(count, 1))


class _Controller(Controller):
    def __init__(self, handler: _Handler, lmtp: bool, **kwargs: Any) -> None:
        self._lmtp = lmtp
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        server_class = LMTP if self._lmtp else SMTP
        return server_class(self.handler, **self.SMTP_kwargs)


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise InboundError(f"listen address {listen!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


class Receiver:
    """A running (after :meth:`start`) LMTP or SMTP server feeding ``handle``."""

    def __init__(self, listen: str, lmtp: bool, handle: Handle, max_bytes: int) -> None:
        host, port = split_listen(listen)
        self._controller = _Controller(
            _Handler(handle),
            lmtp,
            hostname=host,
            port=port,
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
            ident="publisher inbound",
        )
        self._stopped = threading.Event()
        self.lmtp = lmtp

    @property
    def address(self) -> str:
        return f"{self._controller.hostname}:{self._controller.port}"

    def start(self) -> None:
        try:
            self._controller.start()
        except (OSError, RuntimeError) as exc:
            raise InboundError(f"cannot listen on {self.address}: {exc}") from exc

    def wait(self) -> None:
        """Block until :meth:`stop` (from another thread) or Ctrl-C."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        self._stopped.set()
        self._controller.stop()
