"""Transports: where a finished message goes. Each takes bytes and an envelope, nothing more.

A transport returns the server's reply (or where it wrote the file) and raises
:class:`TransientDeliveryError` for "try later" and :class:`PermanentDeliveryError` for
"never": the sender decides what that means for the ledger.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from publisher.exceptions import TransientDeliveryError
from publisher.types import OutgoingMessage

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


class Transport(Protocol):
    """Hands one message to the outside world."""

    def send(self, message: OutgoingMessage) -> str:
        """Deliver ``message``; return the reply; raise a DeliveryError subclass on failure."""
        ...

    def close(self) -> None:
        """Release connections or files."""
        ...


def safe_name(text: str) -> str:
    """A file-name-safe form of an edition key or Message-ID (no slashes, no brackets)."""
    return _UNSAFE.sub("_", text.strip("<>")) or "_"


class OutboxTransport:
    """Writes each message atomically as ``<dir>/<edition>/<message-id>.eml``.

    The default transport: it needs nothing installed, and a message resent after a crash
    (same Message-ID) overwrites its own file instead of making a second one. The envelope
    sender goes first as a ``Return-Path:`` header, as a delivering MTA writes it, so the
    VERP address can be checked (and a file fed back to ``inbound process`` as a bounce).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, message: OutgoingMessage) -> Path:
        folder = self.directory / safe_name(message.edition_key or "messages")
        return folder / f"{safe_name(message.message_id)}.eml"

    def send(self, message: OutgoingMessage) -> str:
        target = self.path_for(message)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".eml")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(f"Return-Path: <{message.sender}>\r\n".encode())
                    handle.write(message.data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TransientDeliveryError(f"cannot write {target}: {exc.strerror}") from exc
        return f"written {target}"

    def close(self) -> None:
        """Nothing to release."""


class MemoryTransport:
    """Keeps messages in a list: for tests of our own logic only."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> str:
        self.sent.append(message)
        return "250 kept in memory"

    def close(self) -> None:
        """Nothing to release."""
