"""DKIM signatures made by a child process while the sender's event loop sends.

Why a process: an RSA-2048 signature is ~0.3 ms of CPU, more than the event loop spends on
all the rest of a message. OpenSSL signs with the interpreter lock released, but threads
of the sender that built and signed ahead still held the lock for the Python around each
signature, and the loop then waited for it after every socket call: two such threads
made a signed send 12 % faster, where a process that only signs made it 30 % faster
(20,000 readers, 2 cores, docs/scaling.md). The loop builds each message as before, hands
the data to sign to this process a few rows ahead, and finds the signatures ready when
the message's turn comes (``delivery/build_ahead.py``).

The child is a Python of its own (the same interpreter) running :func:`serve`: it imports
``cryptography``, :mod:`publisher.signing_keys` and this package, reads the keys from its
standard input (never from its command line, which other users can read), then answers
each request, a list of (key, data) pairs, with the list of signatures. It exits when its
input closes: when the sender closes it, or when the sender's process dies, however.
"""

from __future__ import annotations

import contextlib
import pickle
import struct
import subprocess
import sys
from collections.abc import Sequence
from typing import IO, Any

from publisher.exceptions import PublisherError

_LENGTH = struct.Struct("!I")
_CHILD = (
    "import sys; from publisher.delivery.signing_process import serve; "
    "serve(sys.stdin.buffer, sys.stdout.buffer)"
)


class SigningError(PublisherError):
    """The signing process failed or ended: the batch stops and its rows go back untried
    (not a delivery error: no reader's row is charged for it)."""


def _write(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError
    size = _LENGTH.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # only ever our own child's or parent's pipe


class SigningProcess:
    """A child process holding the signing keys; requests go in order, answers come back
    in the same order."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """``keys``: (algorithm, PEM) per key, in the order of ``DkimSigner``'s keys."""
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._inbox, self._outbox = self._child.stdin, self._child.stdout
        assert self._inbox is not None and self._outbox is not None
        self._send(list(keys))

    def submit(self, items: Sequence[tuple[int, bytes]]) -> None:
        """Ask for the signatures of ``items`` (key index, data); :meth:`receive` gives
        them, request by request."""
        self._send(list(items))

    def receive(self) -> list[bytes]:
        """The signatures of the oldest request not yet received (waits for them)."""
        assert self._outbox is not None
        try:
            answer = _read(self._outbox)
        except (EOFError, OSError) as exc:
            raise SigningError(f"the DKIM signing process ended ({self._ended()})") from exc
        if isinstance(answer, str):
            raise SigningError(f"the DKIM signing process failed: {answer}")
        return list(answer)

    def close(self) -> None:
        """End the child (its input closes) and wait for it."""
        if self._inbox is not None and not self._inbox.closed:
            with contextlib.suppress(OSError):  # the child is gone already
                self._inbox.close()
        try:
            self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        if self._outbox is not None:
            self._outbox.close()

    def _send(self, value: Any) -> None:
        assert self._inbox is not None
        try:
            _write(self._inbox, value)
        except OSError as exc:
            raise SigningError(f"the DKIM signing process ended ({self._ended()})") from exc

    def _ended(self) -> str:
        code = self._child.poll()
        return "still running" if code is None else f"exit status {code}"


def serve(inbox: IO[bytes], outbox: IO[bytes]) -> None:
    """The child: load the keys, then sign request after request until the input ends."""
    from publisher import signing_keys

    loaders = {"rsa-sha256": signing_keys.load_rsa, "ed25519-sha256": signing_keys.load_ed25519}
    try:
        keys = [loaders[algorithm](pem) for algorithm, pem in _read(inbox)]
    except EOFError:
        return
    while True:
        try:
            request = _read(inbox)
        except EOFError:
            return
        try:
            answer: Any = [signing_keys.sign(keys[index], data) for index, data in request]
        except Exception as exc:  # the parent reports it; the child goes on
            answer = f"{type(exc).__name__}: {exc}"
        try:
            _write(outbox, answer)
        except OSError:  # the parent is gone
            return
