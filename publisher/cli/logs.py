"""Log lines of the long-running commands: readable on a terminal, JSON for collectors.

``publisher serve`` logs what it does (leader changes, job runs, retries, HTTP access)
through the standard ``logging`` module. On a terminal the lines are for people; with
``--log-json`` each record is one JSON object per line (time, level, logger, message, and
the exception when there is one) for journald, Loki, CloudWatch and the like.

Records are written by a background thread (:class:`logging.handlers.QueueListener`): the
thread that logs, for the web server the event loop writing an access record per request,
only puts the record on a queue. Formatting and the write to standard error (a pipe to
journald that may block) happen off the request path.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from logging.handlers import QueueHandler, QueueListener
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


class _Enqueue(QueueHandler):
    """Puts the record on the queue as it is: the listener's handler formats it (the stock
    QueueHandler formats here, in the logging thread, for queues that pickle)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def configure_logging(
    json_lines: bool = False, level: int = logging.INFO, stream: TextIO | None = None
) -> Callable[[], None]:
    """Send every logger (ours, uvicorn's, APScheduler's) to one handler on standard error,
    written by a background thread. Returns the function that writes what is queued and
    stops that thread (also run at exit)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(HUMAN_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    handler.addFilter(AccessLine())
    records: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
    listener = QueueListener(records, handler)
    listener.start()
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(_Enqueue(records))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # APScheduler says "Running job ..." for every run; our jobs log what they did instead.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            listener.stop()

    atexit.register(stop)
    return stop
