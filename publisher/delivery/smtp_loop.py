"""A sender's SMTP connections on one thread: non-blocking sockets and one event loop.

Why not a thread per connection: with four lane threads and the recorder's thread, a
sender spent more CPU handing work between threads than sending. Each reply woke a lane
that then queued for the interpreter lock, each commit woke the lanes that waited for it,
and the lock changed hands several times per message. Measured on 2 cores, 100,000
readers into ``smtp-sink``, the same claims, messages, ledger writes and repeat bound:
threads 2,709 msg/s at 270 µs of CPU per message, one loop 3,707 msg/s at 158 µs.

Each connection is a lane; the loop drives its :class:`~publisher.delivery.smtp.Exchange`
(the same rules as the blocking transport: pipelining, refusals, RSET, 421) with
``selectors``. What stays as it was:

- connecting (greeting, EHLO, STARTTLS, login) is the transport's blocking code, once per
  connection, before its socket is made non-blocking;
- the recorder writes on its own thread (a database call lets go of the lock while it
  waits) and wakes the loop through a socket pair after each commit;
- the repeat bound: a lane starts a message only when at most ``unrecorded - 1`` of its
  earlier outcomes are unknown to the ledger, so a ``SIGKILL`` repeats at most
  ``unrecorded`` messages per connection (see ``recorder.py``). A lane that must wait asks
  the recorder to commit at once (``Recorder.expedite``) and sleeps until it has;
- stopping: no new message starts once ``halt`` is set; those in flight finish and are
  recorded.

A timeout (``smtp.timeout``) is counted from the last bytes read or written; a connection
that passes it is dropped and its message deferred, as the blocking transport's socket
timeout does.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Generator
from contextlib import suppress
from typing import Protocol

from publisher.delivery.ratelimit import RateLimiter
from publisher.delivery.recorder import Recorder
from publisher.delivery.smtp import (
    Exchange,
    Reply,
    SmtpTransport,
    StaleConnection,
    Write,
)
from publisher.exceptions import DeliveryError, ServerUnreachable
from publisher.types import ClaimedDelivery, DeliveryOutcome, OutgoingMessage

_POLL_SECONDS = 0.1  # how soon a ``halt`` set by another thread is seen when all is quiet
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class Host(Protocol):
    """What the loop needs from its sender."""

    limiter: RateLimiter

    def next_message(
        self, work: deque[ClaimedDelivery], outcomes: Outcomes
    ) -> tuple[ClaimedDelivery, OutgoingMessage] | None: ...

    def sent(
        self, claim: ClaimedDelivery, message: OutgoingMessage, reply: str
    ) -> DeliveryOutcome: ...

    def failed(
        self, claim: ClaimedDelivery, error: DeliveryError, message_id: str | None
    ) -> DeliveryOutcome: ...

    def pause(self, error: ServerUnreachable) -> None: ...


class Outcomes(Protocol):
    """A sender's outcomes (``sender._Outcomes``): each handed to the recorder, its ticket
    returned (whether its commit may finish the edition is the sender's to know)."""

    recorder: Recorder

    def add(self, outcome: DeliveryOutcome) -> int: ...

    def taken(self) -> bool: ...


class Halt(Protocol):
    def is_set(self) -> bool: ...

    def set(self) -> None: ...


class _Lane:
    """One connection and the message it is sending."""

    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self.sock: socket.socket | None = None  # registered with the selector
        self.claim: ClaimedDelivery | None = None
        self.message: OutgoingMessage | None = None
        self.exchange: Exchange | None = None
        self.steps: Generator[Write, list[Reply], str] | None = None
        self.not_before = 0.0  # the rate limiter's slot for this message
        self.reused = False  # the connection carried a message before this one
        self.wanted = 0  # replies still to read
        self.replies: list[Reply] = []
        self.lines: list[bytes] = []  # the lines read of a multi-line reply
        self.inbox = bytearray()
        self.outbox: memoryview | None = None  # bytes not yet written
        self.deadline = 0.0
        self.tickets: deque[int] = deque()  # this lane's outcomes not known committed

    def clear(self) -> None:
        self.claim = self.message = self.exchange = self.steps = None
        self.wanted = 0
        self.replies = []
        self.lines = []
        self.outbox = None


class SmtpLoop:
    """The connections of one sender, driven on the calling thread (see the module)."""

    def __init__(
        self,
        transports: Callable[[], SmtpTransport],
        first: SmtpTransport,
        lanes: int,
        unrecorded: int,
    ) -> None:
        self._lanes = [_Lane(first)] + [_Lane(transports()) for _ in range(max(lanes, 1) - 1)]
        self._unrecorded = max(unrecorded, 1)
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        for end in (self._wake_in, self._wake_out):
            end.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ, None)
        self._halt: Halt | None = None

    def wake(self) -> None:
        """Wake the loop (from any thread): a commit landed."""
        with suppress(OSError):  # the pair is full (the loop wakes anyway) or closed
            self._wake_out.send(b"\0")

    # --- one batch -----------------------------------------------------------------------

    def run(
        self,
        work: deque[ClaimedDelivery],
        halt: Halt,
        outcomes: Outcomes,
        host: Host,
        refill: Callable[[], object] | None = None,
    ) -> None:
        """Send ``work`` until it is empty or ``halt`` is set; every started message ends.

        ``refill`` is called whenever ``work`` is empty and may add to it (the sender's
        next batch, once claimed): the lanes then go on without running dry.
        """
        self._halt = halt
        error: BaseException | None = None
        while True:
            # An error (a message that cannot be built, a refused login, a failed ledger
            # write) stops new messages; those in flight finish before it is raised, so
            # none that the server accepted goes back untried. A lane is left idle by
            # whatever raised (``_finish`` and ``_begin`` clear it first).
            try:
                if halt.is_set():
                    self._unstarted(work)
                elif error is None:
                    if not work and refill is not None:
                        refill()
                    for lane in self._lanes:
                        self._start(lane, work, halt, outcomes, host)
                busy = [lane for lane in self._lanes if lane.claim is not None]
                if not busy and (error is not None or halt.is_set() or not work):
                    break
                self._poll(busy, work, outcomes, host)
            except BaseException as exc:
                error = error or exc
                halt.set()
        if error is not None:
            raise error

    def _unstarted(self, work: deque[ClaimedDelivery]) -> None:
        """Messages built but still waiting for their rate slot go back untried."""
        for lane in self._lanes:
            if lane.claim is not None and lane.exchange is None:
                work.appendleft(lane.claim)
                lane.clear()

    def _start(
        self,
        lane: _Lane,
        work: deque[ClaimedDelivery],
        halt: Halt,
        outcomes: Outcomes,
        host: Host,
    ) -> None:
        """Give an idle lane its next message, or begin one whose rate slot has come."""
        now = time.monotonic()
        if lane.claim is not None:
            if lane.exchange is None and lane.not_before <= now:
                self._begin(lane, work, outcomes, host)
            return
        if not work or halt.is_set():
            return
        recorder = outcomes.recorder
        recorder.check()  # a failed write: nothing more is sent that it could not record
        while lane.tickets and lane.tickets[0] <= recorder.committed:
            lane.tickets.popleft()
        if len(lane.tickets) >= self._unrecorded:
            recorder.expedite(lane.tickets[0])  # woken by its commit
            return
        if outcomes.taken():
            # Rows of this batch were written back as no longer ours: another sender took
            # them and sends them. The rest goes back untried.
            halt.set()
            return
        taken = host.next_message(work, outcomes)
        if taken is None:
            return
        lane.claim, lane.message = taken
        now = time.monotonic()  # the build may have taken a while
        lane.not_before = now + host.limiter.book()
        if lane.not_before <= now:
            self._begin(lane, work, outcomes, host)

    def _begin(
        self, lane: _Lane, work: deque[ClaimedDelivery], outcomes: Outcomes, host: Host
    ) -> None:
        """Open the connection if needed and write the first step of the exchange."""
        claim, message = lane.claim, lane.message
        assert claim is not None and message is not None
        transport = lane.transport
        lane.reused = transport.connected  # opened for an earlier message
        try:
            exchange = transport.exchange(message)  # connects (blocking) when not connected
        except ServerUnreachable as exc:
            # The server never saw this message: it goes back with the rest of the batch,
            # no row is charged a try, and the sender pauses.
            work.appendleft(claim)
            lane.clear()
            host.pause(exc)
            if self._halt is not None:
                self._halt.set()
            return
        except DeliveryError as exc:  # a refusal at the greeting: this message's fate
            lane.clear()
            self._finish(lane, host.failed(claim, exc, message.message_id), outcomes)
            return
        except BaseException:
            work.appendleft(claim)
            lane.clear()
            raise
        self._watch(lane, transport)
        lane.exchange, lane.steps = exchange, exchange.steps()
        try:
            request = next(lane.steps)
        except DeliveryError as exc:  # refused before a byte was written (the envelope)
            self._finish(lane, host.failed(claim, exc, message.message_id), outcomes)
            return
        self._write(lane, request, work, outcomes, host)

    def _watch(self, lane: _Lane, transport: SmtpTransport) -> None:
        sock = transport.connection().sock
        assert sock is not None
        if lane.sock is sock:
            return
        self._forget(lane)
        sock.setblocking(False)
        lane.sock = sock
        lane.inbox.clear()
        self._selector.register(sock, selectors.EVENT_READ, lane)

    def _forget(self, lane: _Lane) -> None:
        if lane.sock is not None:
            with suppress(KeyError, ValueError):  # already closed
                self._selector.unregister(lane.sock)
            lane.sock = None

    # --- reading and writing -------------------------------------------------------------

    def _poll(
        self,
        busy: list[_Lane],
        work: deque[ClaimedDelivery],
        outcomes: Outcomes,
        host: Host,
    ) -> None:
        now = time.monotonic()
        timeout = _POLL_SECONDS
        for lane in busy:
            moment = lane.deadline if lane.exchange is not None else lane.not_before
            timeout = min(timeout, max(moment - now, 0.0))
        for key, events in self._selector.select(timeout):
            lane = key.data
            if lane is None:
                self._drain_wake()
                continue
            if events & selectors.EVENT_WRITE and lane.outbox is not None:
                self._flush(lane, work, outcomes, host)
            if events & selectors.EVENT_READ and lane.sock is not None:
                self._read(lane, work, outcomes, host)
        now = time.monotonic()
        late = [lane for lane in busy if lane.exchange is not None and lane.deadline <= now]
        if late:
            # Not late if bytes came while the loop was busy (a blocking connect of
            # another lane): those are read at the next pass.
            ready = {key.data for key, _ in self._selector.select(0)}
            for lane in late:
                if lane not in ready:
                    self._lost(lane, "timed out", work, outcomes, host)

    def _drain_wake(self) -> None:
        with suppress(OSError):
            while self._wake_in.recv(4096):
                pass

    def _write(
        self,
        lane: _Lane,
        request: Write,
        work: deque[ClaimedDelivery],
        outcomes: Outcomes,
        host: Host,
    ) -> None:
        sock = lane.sock
        assert sock is not None
        self._reading(lane)
        lane.wanted, lane.replies, lane.lines = request.replies, [], []
        lane.deadline = time.monotonic() + lane.transport.options.timeout
        total = sum(len(part) for part in request.parts)
        try:
            if type(sock) is socket.socket:  # TLS sockets have no sendmsg
                written = sock.sendmsg(request.parts)
            else:
                written = sock.send(b"".join(request.parts))
        except _WOULD_BLOCK:
            written = 0
        except OSError as exc:
            self._lost(lane, str(exc), work, outcomes, host)
            return
        if written < total:
            lane.outbox = memoryview(b"".join(request.parts))[written:]
            self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, lane)

    def _flush(
        self, lane: _Lane, work: deque[ClaimedDelivery], outcomes: Outcomes, host: Host
    ) -> None:
        sock, outbox = lane.sock, lane.outbox
        assert sock is not None and outbox is not None
        try:
            written = sock.send(outbox)
        except _WOULD_BLOCK:
            return
        except OSError as exc:
            self._lost(lane, str(exc), work, outcomes, host)
            return
        lane.deadline = time.monotonic() + lane.transport.options.timeout
        if written < len(outbox):
            lane.outbox = outbox[written:]
            return
        self._reading(lane)
        if lane.inbox:  # the server answered before the last bytes went out
            self._parse(lane, work, outcomes, host)

    def _reading(self, lane: _Lane) -> None:
        """Nothing left to write: the socket is watched for reading only."""
        if lane.outbox is not None:
            lane.outbox = None
            if lane.sock is not None:
                self._selector.modify(lane.sock, selectors.EVENT_READ, lane)

    def _read(
        self, lane: _Lane, work: deque[ClaimedDelivery], outcomes: Outcomes, host: Host
    ) -> None:
        sock = lane.sock
        assert sock is not None
        try:
            data = sock.recv(65536)
            while isinstance(sock, ssl.SSLSocket) and sock.pending():
                data += sock.recv(65536)
        except _WOULD_BLOCK:
            return
        except OSError as exc:
            data, reason = b"", str(exc)
        else:
            reason = "Connection unexpectedly closed"
        if lane.exchange is None:
            # The end of an idle connection, or words from the server between messages
            # (a 421 before it closes one): it is not trusted again; the next message
            # opens a new one.
            self._drop(lane)
            return
        if not data:
            self._lost(lane, reason, work, outcomes, host)
            return
        lane.deadline = time.monotonic() + lane.transport.options.timeout
        lane.inbox += data
        if lane.outbox is None:
            # A reply that comes while the message is still being written waits until it
            # is all written, as with a blocking write (a server may refuse early yet
            # read on to the final dot).
            self._parse(lane, work, outcomes, host)

    def _parse(
        self, lane: _Lane, work: deque[ClaimedDelivery], outcomes: Outcomes, host: Host
    ) -> None:
        """Read the replies the current step asked for; once all are in, go on."""
        while lane.wanted:
            end = lane.inbox.find(b"\n")
            if end < 0:
                return
            line = bytes(lane.inbox[: end + 1])
            del lane.inbox[: end + 1]
            self._line(lane, line)
        self._advance(lane, work, outcomes, host)

    @staticmethod
    def _line(lane: _Lane, line: bytes) -> None:
        """One reply line, read as ``smtplib.SMTP.getreply`` reads it."""
        lane.lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] == b"-":
            return
        try:
            code = int(line[:3])
        except ValueError:
            code = -1
        lane.replies.append((code, b"\n".join(lane.lines)))
        lane.lines = []
        lane.wanted -= 1

    def _advance(
        self, lane: _Lane, work: deque[ClaimedDelivery], outcomes: Outcomes, host: Host
    ) -> None:
        """Hand the replies to the exchange: its next step, or the message's outcome."""
        claim, message, exchange, steps = lane.claim, lane.message, lane.exchange, lane.steps
        assert claim is not None and message is not None
        assert exchange is not None and steps is not None
        try:
            request = steps.send(lane.replies)
        except StopIteration as done:
            self._finish(lane, host.sent(claim, message, str(done.value)), outcomes)
        except DeliveryError as exc:
            if exchange.closing:
                self._drop(lane)  # the server is closing it (421): no goodbye
            self._finish(lane, host.failed(claim, exc, message.message_id), outcomes)
        else:
            self._write(lane, request, work, outcomes, host)

    def _lost(
        self,
        lane: _Lane,
        reason: str,
        work: deque[ClaimedDelivery],
        outcomes: Outcomes,
        host: Host,
    ) -> None:
        """The connection failed during an exchange: drop it; the message's fate."""
        claim, message, exchange = lane.claim, lane.message, lane.exchange
        assert claim is not None and message is not None and exchange is not None
        reused = lane.reused
        self._drop(lane)
        error = exchange.lost(reason)
        if isinstance(error, StaleConnection):
            if reused:
                # A pooled connection the server had closed while idle: one fresh try
                # (on a new connection, so a second loss here is final).
                lane.exchange = lane.steps = None
                self._begin(lane, work, outcomes, host)
                return
            error = error.final()
        self._finish(lane, host.failed(claim, error, message.message_id), outcomes)

    def _finish(
        self,
        lane: _Lane,
        outcome: DeliveryOutcome,
        outcomes: Outcomes,
    ) -> None:
        self._reading(lane)
        lane.clear()  # first: the lane is idle even if the recorder has failed
        if lane.inbox:
            # Bytes beyond the replies asked for: the exchange is out of step with the
            # server, and the next message must not read them as its own.
            self._drop(lane)
        lane.tickets.append(outcomes.add(outcome))

    def _drop(self, lane: _Lane) -> None:
        """Close the lane's connection at once."""
        self._forget(lane)
        lane.inbox.clear()
        lane.outbox = None
        lane.reused = False
        lane.transport.drop()

    @staticmethod
    def _blocking(transport: SmtpTransport) -> None:
        """The socket back in blocking mode with its timeout, for smtplib's own calls."""
        if transport.connected:
            sock = transport.connection().sock
            if sock is not None:
                sock.settimeout(transport.options.timeout)

    def close(self) -> None:
        for lane in self._lanes:
            self._forget(lane)
            self._blocking(lane.transport)
            lane.transport.close()
        self._selector.close()
        self._wake_in.close()
        self._wake_out.close()
