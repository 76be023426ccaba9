"""The sender: drains the ledger in claimed batches through a pool of transport lanes.

One loop, the same for ``digest send``, ``publisher worker`` and the scheduler's worker:

1. claim a batch (a short lease, renewed by a heartbeat while this sender lives);
2. build each message with the message factory (the digest renders once per edition and
   variant; per recipient it only substitutes bytes);
3. hand the messages to ``connections`` lanes, each with its own transport (its own SMTP
   connection), paced by one shared rate limiter. SMTP lanes all run on one event loop
   (``smtp_loop.py``); a transport whose ``send`` blocks (the outbox, a transport an
   application passes in) gets a thread per lane;
4. record each outcome as the server answers (group commit, ``recorder.py``); release
   what was not tried.

Stopping (a set ``stop`` event) lets the lanes finish the message each has in flight, records
those outcomes and releases the rest of the claim, so nothing waits for a lease to expire.
If the process dies instead, its hold lock dies with it and the next sender reclaims its
rows at once (or, where that cannot be known, when the short lease runs out). The only
possible repeats are the messages sent but not yet recorded (at most two per connection),
and they carry the same Message-ID. The same bound holds when a live sender's rows are
taken from it (its hold-lock session ended and another sender reclaimed them): the first
group commit that no longer matches them stops the batch (``_Outcomes.taken``).

While nothing is claimable because another live sender holds the rows, the loop says so
(``on_wait``: who holds how many rows until when) and waits for them.

When the server cannot be reached at all (:class:`ServerUnreachable`), the batch is
released untouched (the server saw none of it) and the loop pauses (``retry_base_seconds``,
doubling to ``MAX_PAUSE_SECONDS``) before claiming again: an outage charges no reader a
try, so it cannot exhaust their tries, and a blackholed server does not keep a batch past
its lease. A run that is not ``forever`` raises the error after ``max_attempts`` outages in
a row (the rows stay due for a rerun or a worker); a worker keeps pausing.
"""

from __future__ import annotations

import gc
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, cast

from publisher.delivery import policy
from publisher.delivery.build_ahead import DeferredSigner, SignAhead
from publisher.delivery.ratelimit import RateLimiter
from publisher.delivery.recorder import Heartbeat, Recorder
from publisher.delivery.smtp import SmtpTransport
from publisher.delivery.smtp_loop import Outcomes, SmtpLoop
from publisher.delivery.transports import Transport
from publisher.exceptions import DeliveryError, PublisherError, ServerUnreachable
from publisher.types import (
    FINAL_DELIVERY_STATES,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryState,
    LeaseHolder,
    OutgoingMessage,
    SendReport,
)

MAX_PAUSE_SECONDS = 300.0

MessageFactory = Callable[[ClaimedDelivery], OutgoingMessage]
"""Builds the message of a claimed row. Called from the lane threads: it must be thread-safe."""
TransportFactory = Callable[[], Transport]
WaitListener = Callable[[list[LeaseHolder]], None]
"""Hears who holds the rows this sender waits for (called at most every WAIT_NOTICE_SECONDS)."""
WAIT_NOTICE_SECONDS = 10.0


class Ledger(Protocol):
    """What the sender needs from the store (``store.deliveries`` provides it)."""

    def claim(
        self,
        worker: str,
        limit: int,
        lease_seconds: float,
        now: datetime,
        edition_ids: Sequence[int] | None = None,
    ) -> list[ClaimedDelivery]: ...

    def release(self, worker: str, ids: Sequence[int], now: datetime) -> int: ...

    def next_due(
        self, now: datetime, edition_ids: Sequence[int] | None = None
    ) -> datetime | None: ...

    def renew(self, worker: str, lease_seconds: float, now: datetime) -> int: ...

    def writer(self, worker: str, flush: bool = True) -> OutcomeWriter: ...

    def hold(self, worker: str) -> Releasable | None: ...

    def holders(
        self, now: datetime, edition_ids: Sequence[int] | None = None
    ) -> list[LeaseHolder]: ...

    def reclaim(self, worker: str, now: datetime) -> int: ...


class OutcomeWriter(Protocol):
    """Records one sender's outcomes (``Ledger.writer``): a group per transaction."""

    def record(
        self, outcomes: Sequence[DeliveryOutcome], now: datetime, settle: bool = True
    ) -> int:
        """Write the group; with ``settle`` also finish editions left with no open row."""
        ...

    @property
    def concurrent(self) -> bool:
        """Whether a second writer of the same sender may commit beside this one."""
        ...

    def may_overlap(self, outcomes: Sequence[DeliveryOutcome], settle: bool) -> bool:
        """Whether this group may be written while another group's write is in flight."""
        ...

    def close(self) -> None: ...


class Releasable(Protocol):
    """The hold lock of a sender (``Ledger.hold``): alive as long as the sender is."""

    def keep(self) -> None:
        """Take the lock again if it was lost (its database session ended)."""
        ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class SenderOptions:
    """Plain values from the mail and SMTP settings (the sender never reads config)."""

    batch_size: int = 1000
    lease_seconds: float = 30.0
    max_attempts: int = 6
    retry_base_seconds: float = 30.0
    connections: int = 1
    rate: float = 0.0
    poll_seconds: float = 1.0
    unrecorded: int = 2  # messages a lane may have sent before their outcome is committed
    ledger_flush: bool = False  # each outcome commit waits for the database's disk flush


@dataclass
class Tally:
    """Outcomes of this run (``deferred`` counts tries put off for later).

    When a run ends every outcome in it is committed; the counts ``on_progress`` sees
    mid-run may include outcomes still on their way to the ledger (a batch joined on the
    event loop reports the ones before it at once)."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    suppressed: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def add(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        for o in outcomes:
            if o.state is DeliveryState.SENT:
                self.sent += 1
            elif o.state is DeliveryState.DEFERRED:
                self.deferred += 1
            elif o.state is DeliveryState.FAILED:
                self.failed += 1
            elif o.state is DeliveryState.SUPPRESSED:
                self.suppressed += 1

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def settled(self) -> int:
        return self.sent + self.failed + self.suppressed

    def report(self, edition_key: str = "", **extra: int) -> SendReport:
        return SendReport(
            edition_key,
            self.sent,
            self.deferred,
            self.failed,
            self.suppressed,
            self.seconds,
            dict(extra),
        )


def make_worker_id() -> str:
    """Host, process and a random tag: unique across hosts, restarts and threads."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Claims, sends and records until the work is done (or forever, for a worker)."""

    def __init__(
        self,
        ledger: Ledger,
        transport_factory: TransportFactory,
        message_factory: MessageFactory,
        options: SenderOptions | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_progress: Callable[[Tally], None] | None = None,
        rng: random.Random | None = None,
        on_wait: WaitListener | None = None,
        signer: DeferredSigner | None = None,
    ) -> None:
        self.ledger = ledger
        self.transport_factory = transport_factory
        self.message_factory = message_factory
        self.options = options or SenderOptions()
        self.worker_id = worker_id or make_worker_id()
        self.clock = clock
        self.on_progress = on_progress
        self.on_wait = on_wait
        self._told_wait = 0.0  # time.monotonic() of the last on_wait call
        self.rng = rng or random.Random()
        self.limiter = RateLimiter(self.options.rate)
        self._local = threading.local()
        self._transports: list[Transport] = []
        self._transports_lock = threading.Lock()
        self._outages = 0  # consecutive batches that found the server unreachable
        self._outage: ServerUnreachable | None = None
        self._pause_until = 0.0  # time.monotonic() before which nothing is claimed
        self._events: SmtpLoop | None = None  # the lanes' event loop, for SMTP
        # With DKIM on, the messages' signatures are made by a child process, a few rows
        # ahead of the event loop (build_ahead.py). The factory's messages are this
        # signer's: it signs them itself when not asked to defer.
        self.signer = signer
        self._ahead: SignAhead | None = None
        self._spare: Transport | None = None  # made to learn the transport's kind

    # --- the loop ----------------------------------------------------------------------------

    @property
    def claim_size(self) -> int:
        """Rows per claim: the batch size, but never more than half a lease can send.

        At a low rate a full batch could outlive its lease, and another worker would take
        (and send) rows still waiting here.
        """
        o = self.options
        if o.rate <= 0:
            return o.batch_size
        return max(1, min(o.batch_size, int(o.rate * o.lease_seconds / 2)))

    def run(
        self,
        stop: threading.Event | None = None,
        edition_ids: Sequence[int] | None = None,
        forever: bool = False,
        until_idle: bool = False,
        wake: threading.Event | None = None,
    ) -> Tally:
        """Drain claimable rows of ``edition_ids`` (all editions when None).

        Without ``forever`` it returns once every row is final, waiting for deferred rows
        to come due (and for rows other workers hold). With ``forever`` it keeps polling
        for new work until ``stop`` is set. With ``until_idle`` (a helper of a send) it
        returns as soon as nothing is claimable now: the rest is its parent's to wait for.
        ``wake``, when set by the caller (a helper exited), ends a wait for other
        holders' rows at once instead of at the next poll.
        """
        stop = stop or threading.Event()
        o = self.options
        tally = Tally()
        lanes = self.options.connections
        with ExitStack() as cleanup:
            cleanup.callback(self.close)
            _freeze_long_lived(cleanup)
            # Held before the first claim: a sender without it would look dead to others.
            lock = self.ledger.hold(self.worker_id)
            if lock is not None:
                cleanup.callback(lock.release)
            writers = [self.ledger.writer(self.worker_id, flush=o.ledger_flush)]
            if o.ledger_flush and writers[0].concurrent:
                # Commits that wait for the disk: a second session writes the next group
                # while one waits. Without that wait a second writer only made more,
                # smaller commits (more CPU for the same rate, measured).
                writers.append(self.ledger.writer(self.worker_id, flush=o.ledger_flush))
            for writer in writers:
                cleanup.callback(writer.close)
            events = self._event_loop()
            if events is not None:
                cleanup.callback(events.close)
                if self.signer is not None:
                    self._ahead = SignAhead(self.message_factory, self.signer)
                    cleanup.callback(self._ahead.close)
            recorder = Recorder(
                *(self._record_with(writer) for writer in writers),
                overlap=writers[0].may_overlap,
                on_commit=None if events is None else events.wake,
            )
            cleanup.callback(recorder.close)
            beat = Heartbeat(lambda: self._beat(lock), max(o.lease_seconds / 3, 0.05))
            cleanup.callback(beat.stop)
            executor = None
            if events is None and lanes > 1:
                executor = ThreadPoolExecutor(lanes, "send-lane")
                cleanup.callback(executor.shutdown, wait=True)
            self._events = events
            self._loop(
                stop, edition_ids, forever, executor, tally, recorder, until_idle, wake, lock
            )
        tally.finished = time.monotonic()
        return tally

    def _event_loop(self) -> SmtpLoop | None:
        """All SMTP lanes on one event loop (``smtp_loop.py``); None for other transports,
        whose ``send`` blocks: they keep a thread per lane."""
        first = self.transport_factory()
        if not isinstance(first, SmtpTransport):
            self._spare = first  # the first lane's transport: not made twice
            return None
        factory = cast(Callable[[], SmtpTransport], self.transport_factory)
        return SmtpLoop(factory, first, self.options.connections, self.options.unrecorded)

    # What the event loop asks of its sender (smtp_loop.Host), and the lanes too.

    def next_message(
        self, work: deque[ClaimedDelivery], outcomes: Outcomes
    ) -> tuple[ClaimedDelivery, OutgoingMessage] | None:
        """The next row of ``work`` and its message; None when the queue is empty.

        A row whose message cannot be built (``DeliveryError``: nothing in the edition
        for the reader any more) fails alone and the next is taken. Any other error is
        the edition's (a template that does not render): the row goes back to the queue
        and the error stops the batch.
        """
        while True:
            try:
                claim = work.popleft()
            except IndexError:  # another lane took the last one
                return None
            try:
                if self._ahead is None:
                    return claim, self.message_factory(claim)
                return claim, self._ahead.take(claim, work)
            except DeliveryError as exc:
                outcomes.add(self.failed(claim, exc, None))
            except BaseException:
                work.appendleft(claim)
                raise

    def sent(self, claim: ClaimedDelivery, message: OutgoingMessage, reply: str) -> DeliveryOutcome:
        """The outcome of an accepted message: the server answers, so no outage goes on."""
        self._outages, self._outage = 0, None
        return policy.sent(claim, message.message_id, reply)

    def _record_with(
        self, writer: OutcomeWriter
    ) -> Callable[[Sequence[DeliveryOutcome], bool], int]:
        return lambda outcomes, settle: writer.record(outcomes, self.clock(), settle=settle)

    def _beat(self, lock: Releasable | None) -> None:
        self.ledger.renew(self.worker_id, self.options.lease_seconds, self.clock())
        self._keep(lock)

    @staticmethod
    def _keep(lock: Releasable | None) -> None:
        """Take the hold lock back if its session ended: without it this live sender looks
        dead, and any other sender that runs out of work reclaims (and sends) its rows."""
        if lock is not None:
            with suppress(PublisherError):  # tried again before the next claim and beat
                lock.keep()

    def _loop(
        self,
        stop: threading.Event,
        edition_ids: Sequence[int] | None,
        forever: bool,
        executor: ThreadPoolExecutor | None,
        tally: Tally,
        recorder: Recorder,
        until_idle: bool = False,
        wake: threading.Event | None = None,
        lock: Releasable | None = None,
    ) -> None:
        o = self.options
        self._reclaim_dead(self.clock(), edition_ids)  # a crashed run's rows go first
        ahead = _Ahead(lambda: self._claim(edition_ids, lock))
        try:
            while not stop.is_set():
                pause = self._pause_until - time.monotonic()
                if pause > 0:
                    self._release(ahead.drop())  # nothing is sent while paused: let others
                    stop.wait(pause)
                    continue
                outage = self._outage
                if outage is not None and not forever and self._outages >= o.max_attempts:
                    raise outage  # `digest send` ends here; a rerun or a worker resumes
                claims = ahead.take()
                if claims:
                    ahead.start()  # the next batch is claimed while this one is sent
                    if self._process(claims, stop, executor, tally, recorder, ahead):
                        # Rows of this batch were taken from this sender, so those claimed
                        # ahead were taken with them (or soon will be): none is sent.
                        self._release(ahead.drop())
                    continue
                now = self.clock()
                due = self.ledger.next_due(now, edition_ids)
                if due is None and not forever:
                    break
                if due is not None and due > now and self._reclaim_dead(now, edition_ids):
                    continue
                if until_idle and (due is None or due > now):
                    break
                wait = self.options.poll_seconds
                if due is not None:
                    wait = min(wait, max((due - self.clock()).total_seconds(), 0.01))
                if wake is None:
                    stop.wait(wait)
                elif wake.wait(wait):
                    wake.clear()
        finally:
            self._release(ahead.drop())  # claimed ahead, never tried: back at once
            ahead.close()

    def _claim(
        self, edition_ids: Sequence[int] | None, lock: Releasable | None
    ) -> list[ClaimedDelivery]:
        self._keep(lock)  # before each claim too, not only at the heartbeat's pace
        return self.ledger.claim(
            self.worker_id, self.claim_size, self.options.lease_seconds, self.clock(), edition_ids
        )

    def _release(self, claims: Sequence[ClaimedDelivery]) -> None:
        if claims:
            self.ledger.release(self.worker_id, [c.id for c in claims], self.clock())

    def _reclaim_dead(self, now: datetime, edition_ids: Sequence[int] | None) -> bool:
        """Take back the rows of provably dead holders; True when any came back.

        Otherwise, when live holders keep the rows this run waits for, say who (at most
        every WAIT_NOTICE_SECONDS), so a rerun after a crash never waits in silence.
        """
        others = [h for h in self.ledger.holders(now, edition_ids) if h.worker != self.worker_id]
        back = sum(self.ledger.reclaim(h.worker, now) for h in others if h.alive is False)
        if back:
            return True
        waiting = [h for h in others if h.alive is not False]
        tick = time.monotonic()
        if waiting and self.on_wait is not None and tick - self._told_wait >= WAIT_NOTICE_SECONDS:
            self._told_wait = tick
            self.on_wait(waiting)
        return False

    def _process(
        self,
        claims: list[ClaimedDelivery],
        stop: threading.Event,
        executor: ThreadPoolExecutor | None,
        tally: Tally,
        recorder: Recorder,
        upcoming: _Ahead | None = None,
    ) -> bool:
        """Send a claimed batch; whether rows of it turned out taken by another sender.

        On the event loop the batch claimed ahead (``upcoming``) joins this one as soon as
        this one's queue is empty and that claim has returned, so the connections do not
        run dry at each boundary (waiting for the last replies, then their commit). In
        200-row batches, 20,000 readers took 6.6-6.8 s against 6.9-7.3 s batch by batch;
        at the default 1000 rows the difference is within the host's noise.
        """
        outcomes = _Outcomes(recorder)
        work: deque[ClaimedDelivery] = deque()

        def join(batch: list[ClaimedDelivery]) -> None:
            outcomes.hold(batch)
            work.extend(claim for claim in batch if claim.deliverable)
            for claim in batch:
                if not claim.deliverable:
                    outcomes.add(policy.skipped(claim))

        def report() -> None:
            tally.add(outcomes.take_new())
            if self.on_progress is not None:
                self.on_progress(tally)

        def refill() -> None:
            if upcoming is None or not upcoming.ready() or outcomes.taken():
                return
            batch = upcoming.take()
            if batch:  # none claimable now: this run ends with its queue, as before
                upcoming.start()
                join(batch)
                report()

        join(claims)
        # A lane that fails (a message that cannot be built) stops the others too.
        halt = _Either(stop)
        try:
            if self._events is not None:
                self._events.run(work, halt, outcomes, self, refill)
            elif executor is None:
                self._lane(work, halt, outcomes)
            else:
                futures = [
                    executor.submit(self._lane, work, halt, outcomes)
                    for _ in range(self.options.connections)
                ]
                wait(futures)  # every lane has stopped before the rest is released
                for future in futures:
                    future.result()
        finally:
            if self._ahead is not None:
                self._ahead.clear()  # built for rows that go back now: dropped
            # What was tried is committed (even when stopping or failing); the rest goes back.
            try:
                recorder.flush()
            finally:
                untried = outcomes.untried()
                if untried:
                    self.ledger.release(self.worker_id, untried, self.clock())
                report()
        return outcomes.taken()

    def _lane(self, work: deque[ClaimedDelivery], halt: _Either, outcomes: _Outcomes) -> None:
        """Build and send from the shared queue on this thread's own transport.

        Messages are built here, one at a time, so a process holds ``connections`` messages
        in memory, not a batch of them. Before each send the lane waits until enough of
        its earlier outcomes are committed that at most ``unrecorded`` (2 by default) of its
        messages are ever unknown to the ledger (see ``recorder.py``).
        """
        transport = self._transport()
        tickets: deque[int] = deque()
        while not halt.is_set():
            try:
                taken = self.next_message(work, outcomes)
            except BaseException:
                halt.set()
                raise
            if taken is None:
                return
            claim, message = taken
            while len(tickets) >= self.options.unrecorded:
                outcomes.recorder.wait_for(tickets.popleft())
            if outcomes.taken():
                # Rows of this batch were written back as no longer ours: another sender
                # took them (it judged this one dead, or the lease ran out) and sends them.
                # Sending on would mail those readers twice; the rest goes back untried.
                work.appendleft(claim)
                halt.set()
                return
            self.limiter.wait()
            try:
                outcome = self._send_one(transport, claim, message)
                # Whether it may finish its edition is decided when the outcome is added,
                # not when its row was taken: another lane may still be sending a row
                # taken earlier, and its outcome may come last (see _Outcomes).
                tickets.append(outcomes.add(outcome))
            except ServerUnreachable as exc:
                # The server never saw this message: it goes back with the rest of the
                # batch, no row is charged a try, and the sender pauses.
                work.appendleft(claim)
                self.pause(exc)
                halt.set()
                return

    def _send_one(
        self, transport: Transport, claim: ClaimedDelivery, message: OutgoingMessage
    ) -> DeliveryOutcome:
        try:
            reply = transport.send(message)
        except ServerUnreachable:
            raise
        except DeliveryError as exc:
            return self.failed(claim, exc, message.message_id)
        return self.sent(claim, message, reply)

    def pause(self, error: ServerUnreachable) -> None:
        """No claims for a while: ``retry_base_seconds``, doubling per outage in a row.

        A run that is not ``forever`` gives up after ``max_attempts`` outages in a row,
        raising the error, rather than wait without end for a server that is gone.
        """
        with self._transports_lock:
            if time.monotonic() < self._pause_until:
                return  # another lane of this batch already paused for the same outage
            self._outage = error
            self._outages += 1
            base = self.options.retry_base_seconds
            seconds = min(base * 2.0 ** (self._outages - 1), MAX_PAUSE_SECONDS)
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def failed(
        self, claim: ClaimedDelivery, error: DeliveryError, message_id: str | None
    ) -> DeliveryOutcome:
        o = self.options
        return policy.after_failure(
            claim, error, message_id, self.clock(), o.max_attempts, o.retry_base_seconds, self.rng
        )

    # --- transports ---------------------------------------------------------------------------

    def _transport(self) -> Transport:
        """This thread's transport (its own connection), made on first use."""
        transport: Transport | None = getattr(self._local, "transport", None)
        if transport is None:
            with self._transports_lock:
                transport, self._spare = self._spare, None
            transport = transport or self.transport_factory()
            self._local.transport = transport
            with self._transports_lock:
                self._transports.append(transport)
        return transport

    def close(self) -> None:
        with self._transports_lock:
            transports, self._transports = self._transports, []
            if self._spare is not None:
                transports.append(self._spare)
                self._spare = None
        self._events = self._ahead = None  # closed by run()
        for transport in transports:
            transport.close()
        self._local = threading.local()


def _freeze_long_lived(cleanup: ExitStack) -> None:
    """Keep the collector off what exists before the send, until the send ends.

    A send allocates a few objects per message, so the cyclic collector runs often, and
    each full collection walked everything the process had built before (modules, the
    store's tables and compiled statements, the settings). None of it becomes garbage
    during a send. ``gc.freeze`` sets it aside; ``gc.unfreeze`` gives it back when the
    send ends, so a long-lived process collects it again. 20,000 readers, one process:
    0.07 s of collection instead of 0.14-0.15 s.
    """
    gc.freeze()
    cleanup.callback(gc.unfreeze)


class _Outcomes:
    """The outcomes of a sender's batches as the lanes hand them in, and the rows still open.

    It counts, per edition, the held rows without an outcome: the outcome that leaves its
    edition none may be the one that finishes it, so only its commit asks whether any
    row of the edition is still open (``settle``, see ``Recorder.add``). An outcome is
    handed to the recorder under the lock, so that one follows every other of its
    edition. Rows without an outcome when the batches end go back untried.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._lock = threading.Lock()  # the thread lanes share this
        self._new: list[DeliveryOutcome] = []  # not yet in the tally
        self._open: dict[int, int] = {}  # held rows without an outcome -> their edition
        self._open_by_edition: Counter[int] = Counter()
        self._lost = recorder.lost  # the previous batch is flushed: nothing still counts

    def hold(self, claims: Sequence[ClaimedDelivery]) -> None:
        with self._lock:
            for claim in claims:
                self._open[claim.id] = claim.edition_id
                self._open_by_edition[claim.edition_id] += 1

    def add(self, outcome: DeliveryOutcome) -> int:
        with self._lock:
            self._new.append(outcome)
            edition = self._open.pop(outcome.delivery_id, None)
            if edition is not None:
                self._open_by_edition[edition] -= 1
            # A deferred row is still open: its outcome finishes no edition. Any other
            # settles when the sender holds no other open row of its edition (a row it
            # was not known to hold, its edition unknown here: asked to be safe).
            settle = outcome.state in FINAL_DELIVERY_STATES and (
                edition is None or self._open_by_edition[edition] <= 0
            )
            return self.recorder.add(outcome, settle)

    def take_new(self) -> list[DeliveryOutcome]:
        """The outcomes added since the last call (for the tally: nothing kept twice)."""
        with self._lock:
            new, self._new = self._new, []
            return new

    def untried(self) -> list[int]:
        with self._lock:
            return sorted(self._open)

    def taken(self) -> bool:
        """Whether a write of these batches found rows no longer held by this sender."""
        return self.recorder.lost > self._lost


class _Ahead:
    """The next batch, claimed on a thread of its own while the lanes send the current one.

    Between two batches the lanes stood idle while the claim's statements ran (seven round
    trips, and its Python work under the interpreter lock). Claiming one batch ahead hides
    that; a sender then holds at most two batches, and the one not started goes back at
    once when the sender pauses, stops or fails (``drop``).
    """

    def __init__(self, claim: Callable[[], list[ClaimedDelivery]]) -> None:
        self._claim = claim
        self._executor = ThreadPoolExecutor(1, "send-claim")
        self._next: Future[list[ClaimedDelivery]] | None = None

    def start(self) -> None:
        if self._next is None:
            self._next = self._executor.submit(self._claim)

    def ready(self) -> bool:
        """Whether the batch claimed ahead has come back (``take`` would not wait)."""
        return self._next is not None and self._next.done()

    def take(self) -> list[ClaimedDelivery]:
        """The batch claimed ahead, or one claimed now."""
        upcoming, self._next = self._next, None
        return self._claim() if upcoming is None else upcoming.result()

    def drop(self) -> list[ClaimedDelivery]:
        """The batch claimed ahead and not taken (to release); nothing if its claim failed."""
        upcoming, self._next = self._next, None
        if upcoming is None:
            return []
        try:
            return upcoming.result()
        except PublisherError:
            return []  # nothing was claimed: its transaction did not commit

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class _Either:
    """Set when the caller's ``stop`` is set or when this batch must halt (a lane failed)."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._halt = threading.Event()

    def is_set(self) -> bool:
        return self._stop.is_set() or self._halt.is_set()

    def set(self) -> None:
        self._halt.set()
