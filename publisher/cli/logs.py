"""Log lines of the long-running commands: readable on a terminal, JSON for collectors.

``publisher serve`` logs what it does (leader changes, job runs, retries, HTTP access)
through the standard ``logging`` module. On a terminal the lines are for people; with
``--log-json`` each record is one JSON object per line (time, level, logger, message, and
the exception when there is one) for journald, Loki, CloudWatch and the like.

Records are written by a background thread (:class:`_Writer`): the thread that logs, for
the web server the event loop writing an access record per request, only appends the
record to a deque (no lock, no wake-up). The writer drains it every
:data:`WRITE_EVERY` seconds, so formatting and the write to standard error (a pipe to
journald that may block) happen off the request path, in batches.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TextIO

HUMAN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, UTC timestamps, no multi-line output."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        http = getattr(record, "http", None)
        if http is not None:
            data["http"] = http
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class AccessLine(logging.Filter):
    """uvicorn's access records with the status phrase (``304 Not Modified``), as uvicorn's
    own formatter writes them, and their parts as fields for the JSON lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            try:
                phrase = HTTPStatus(int(status)).phrase  # type: ignore[call-overload]
            except (ValueError, TypeError):
                phrase = ""
            record.msg = '%s - "%s %s HTTP/%s" %s'
            record.args = (client, method, path, version, f"{status} {phrase}".strip())
            record.http = {"client": client, "method": method, "path": path, "status": status}
        return True


WRITE_EVERY = 0.05


class _Writer(logging.Handler):
    """Keeps records in a deque; a daemon thread filters, formats and writes them in
    batches, one write per batch.

    ``deque.append`` is atomic under the GIL, and nothing wakes the thread per record (a
    queue's condition variable did, handing the GIL to the writer on every request). The
    filters (:class:`AccessLine`) run on the writer thread too: they only rewrite records.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.records: deque[logging.LogRecord] = deque()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self.thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def handle(self, record: logging.LogRecord) -> bool:  # no lock: it only appends
        self.records.append(record)
        if self.stopping.is_set():
            self.drain()  # after stop (the last lines at exit): at once
        return True

    def _run(self) -> None:
        while not self.stopping.wait(WRITE_EVERY):
            self.drain()
        self.drain()

    def drain(self) -> None:
        assert self.lock is not None  # made by Handler.__init__
        with self.lock:  # the writer thread, and stop() after it ended
            lines = []
            while self.records:
                record = self.records.popleft()
                try:
                    if self.filter(record):
                        lines.append(self.format(record) + "\n")
                except Exception:
                    self.handleError(record)
            if lines:
                try:
                    self.stream.write("".join(lines))
                    self.stream.flush()
                except (OSError, ValueError):  # standard error closed: nothing to tell
                    pass

    def stop(self) -> None:
        """Write what is kept and end the thread."""
        if not self.stopping.is_set():
            self.stopping.set()
            self.thread.join()
            self.drain()


def configure_logging(
    json_lines: bool = False, level: int = logging.INFO, stream: TextIO | None = None
) -> Callable[[], None]:
    """Send every logger (ours, uvicorn's, APScheduler's) to one handler on standard error,
    written by a background thread. Returns the function that writes what is queued and
    stops that thread (also run at exit)."""
    writer = _Writer(stream or sys.stderr)
    if json_lines:
        writer.setFormatter(JsonFormatter())
    else:
        writer.setFormatter(logging.Formatter(HUMAN_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    writer.addFilter(AccessLine())
    # No process name or id in our lines: skip looking them up for every record.
    logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _Writer):
            existing.stop()
        root.removeHandler(existing)
    root.addHandler(writer)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # uvicorn's own logging set-up may have left a level or disabled a logger
        # (another server in the same process): ours decides what is written.
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
    # APScheduler says "Running job ..." for every run; our jobs log what they did instead.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    atexit.register(writer.stop)
    return writer.stop
