"""A real SMTP server on loopback (aiosmtpd) that counts what it accepts, with optional faults.

Only messages the server answered 250 to are counted: that is what "received" means to a
sender. Faults are deterministic per Message-ID (chosen by a hash, on the first try only),
so a test knows which messages were hit and can never flake on a retry drawn badly.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from localhost import free_port

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Faults:
    """Which faults the server plays (fractions of messages, chosen by Message-ID hash)."""

    temporary: float = 0.0  # 421 or 451 on the first try
    dropped: float = 0.0  # connection closed after DATA, before the reply, on the first try
    slow: float = 0.0  # reply delayed by ``delay`` seconds
    delay: float = 0.02
    refused: frozenset[str] = frozenset()  # addresses answered 550 5.1.1 at RCPT
    pipelining: bool = False  # advertise PIPELINING (RFC 2920) in the EHLO reply
    smtputf8: bool = True  # advertise SMTPUTF8 (RFC 6531), aiosmtpd's default
    accepted: str = "250 2.0.0 OK queued"  # the reply to an accepted message's data
    close_every: int = 0  # after the reply to every Nth accepted message, close (0: never)


def _share(message_id: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{message_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


@dataclass
class CountingHandler:
    faults: Faults = field(default_factory=Faults)
    received: list[tuple[str, str]] = field(default_factory=list)  # (recipient, Message-ID)
    tries: Counter[str] = field(default_factory=Counter)
    played: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    keep: bool = False  # keep each accepted message's bytes (``messages``), for reading
    messages: list[tuple[str, bytes]] = field(default_factory=list)  # (recipient, bytes)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.faults.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.faults.refused:
            self.played["550"] += 1
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.original_content or envelope.content)
        message_id = found.group(1).decode() if found else ""
        with self.lock:
            self.tries[message_id] += 1
            first = self.tries[message_id] == 1
        f = self.faults
        if f.slow and _share(message_id, "slow") < f.slow:
            await asyncio.sleep(f.delay)
        if first and f.dropped and _share(message_id, "drop") < f.dropped:
            self.played["dropped"] += 1
            server.transport.abort()
            return "421 dropped"  # never reaches the client: the connection is gone
        if first and f.temporary and _share(message_id, "temp") < f.temporary:
            code = "421 4.3.2 try again later" if _share(message_id, "k") < 0.5 else None
            self.played["4xx"] += 1
            return code or "451 4.3.0 temporary failure, try again"
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, message_id))
                if self.keep:
                    self.messages.append((rcpt, envelope.original_content or envelope.content))
            close = f.close_every and len(self.received) % f.close_every == 0
        if close:
            # As a restart or an idle timeout would: the reply is written first (a
            # transport flushes before it closes), so the message is the client's, sent.
            self.played["closed"] += 1
            asyncio.get_running_loop().call_soon(server.transport.close)
        return f.accepted

    def copies(self) -> Counter[str]:
        """How many copies each recipient was accepted for."""
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.received)


class CountingServer:
    """Start/stop an aiosmtpd server on 127.0.0.1 in a thread, counting accepted mail."""

    def __init__(self, faults: Faults | None = None, keep: bool = False) -> None:
        self.handler = CountingHandler(faults or Faults(), keep=keep)
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            enable_SMTPUTF8=self.handler.faults.smtputf8,
        )

    def __enter__(self) -> CountingServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
