"""Signed messages built a few rows ahead of the SMTP event loop, signed by a child process.

Why: with DKIM on, building a message means an RSA-2048 signature, ~0.3 ms of CPU: more
than the event loop (``smtp_loop.py``) spends on all the rest of a message. Signed on the
loop's thread, a signed send ran at less than half the unsigned rate while the second core
stood half idle. So the loop builds each message a few rows before its turn, without its
signatures, and hands what they sign to a child process (``signing_process.py``); when the
row's turn comes its signatures are ready, and adding the headers is a byte join.

Measured before settling on a process (20,000 readers, one sender on 2 cores, 8
connections): the loop signing itself 1,278-1,339 msg/s; two threads building and signing
ahead 1,456-1,502 (each thread held the interpreter lock for the Python around its
signatures, and the loop waited for the lock after every socket call); a signing process
1,725.

What it does not change: a row is still sent, recorded or given back by the loop alone. A
message built for a row that then goes back (a stop, a pause, a failed batch) is dropped;
building and signing have no effect outside this process, so nothing is lost or repeated.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from publisher.delivery.signing_process import SigningError, SigningProcess
from publisher.types import ClaimedDelivery, OutgoingMessage

ROWS_AHEAD = 16  # ~5 ms of signatures: the child keeps up; 16 messages of memory


class Unsigned(Protocol):
    """What one signature of a message needs (``digest.dkim.Unsigned``)."""

    @property
    def key(self) -> int: ...

    @property
    def data(self) -> bytes: ...


class DeferredSigner(Protocol):
    """A signer whose signatures can be made elsewhere (``digest.dkim.DkimSigner``)."""

    @property
    def key_specs(self) -> Sequence[tuple[str, bytes]]:
        """(algorithm, PEM) per key, in signature order."""
        ...

    def deferred(self) -> AbstractContextManager[Sequence[Unsigned]]: ...

    # ``unsigned``: what ``deferred`` collected, handed back as it was.
    def complete(
        self, message: bytes, unsigned: Sequence[Any], signatures: Sequence[bytes]
    ) -> bytes: ...


@dataclasses.dataclass
class _Built:
    message: OutgoingMessage | None
    unsigned: Sequence[Unsigned]
    error: BaseException | None = None
    signatures: list[bytes] | None = None


class SignAhead:
    """Builds the next rows of a batch's queue on the caller's thread and has their
    signatures made meanwhile by a :class:`SigningProcess`."""

    def __init__(
        self, build: Callable[[ClaimedDelivery], OutgoingMessage], signer: DeferredSigner
    ) -> None:
        self._build = build
        self._signer = signer
        self._process = SigningProcess(signer.key_specs)
        self._built: dict[int, _Built] = {}  # by ledger row id
        self._asked: deque[list[_Built]] = deque()  # per request sent, its rows in order
        self._broken: SigningError | None = None  # the child is gone: no message is sent

    def take(self, claim: ClaimedDelivery, work: Sequence[ClaimedDelivery]) -> OutgoingMessage:
        """``claim``'s message, signed; the next rows of ``work`` are started first.

        Raises what building raised, as a build at this point would.
        """
        if self._broken is not None:
            raise self._broken
        built = self._built.pop(claim.id, None)
        self._start(work)
        if built is None:
            return self._build(claim)  # signed here, on this thread
        if built.error is not None:
            raise built.error
        while built.signatures is None:
            self._receive()
        assert built.message is not None
        data = self._signer.complete(built.message.data, built.unsigned, built.signatures)
        return dataclasses.replace(built.message, data=data)

    def _start(self, work: Sequence[ClaimedDelivery]) -> None:
        asked: list[_Built] = []
        for claim in itertools.islice(work, ROWS_AHEAD):
            if claim.id in self._built:
                continue
            with self._signer.deferred() as unsigned:
                try:
                    entry = _Built(self._build(claim), unsigned)
                except Exception as exc:  # raised again at the row's turn
                    entry = _Built(None, [], exc)
            self._built[claim.id] = entry
            if entry.error is None:
                asked.append(entry)
        if asked:
            self._process.submit([(u.key, u.data) for entry in asked for u in entry.unsigned])
            self._asked.append(asked)

    def _receive(self) -> None:
        """The answer to the oldest request: each of its rows gets its signatures."""
        rows = self._asked.popleft()
        signatures = iter(self._process.receive())
        for entry in rows:
            entry.signatures = [next(signatures) for _ in entry.unsigned]

    def clear(self) -> None:
        """Drop what was built ahead (the batch is over); answers still due are read, so
        the next request's answer is the next one received. Never raises: it runs while
        a batch ends, before its untried rows go back (a dead child is raised by the next
        :meth:`take`)."""
        self._built.clear()
        try:
            while self._asked:
                self._receive()
        except SigningError as exc:
            self._asked.clear()
            self._broken = exc

    def close(self) -> None:
        self.clear()
        self._process.close()
