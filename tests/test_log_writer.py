"""The log writer of ``publisher serve``: records leave the logging thread at once.

The web server's event loop logs one access record per request; writing it (formatting,
a write to a pipe that may block) must not happen on the loop. A stream that takes
second per write shows it: fifty records are logged in half of one write's time, and
every write happens on the writer thread, in batches, with the access line's status
phrase and the reader's address.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from publisher.cli.logs import configure_logging


class SlowStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writers: list[str] = []

    def write(self, text: str) -> int:
        time.sleep(1.0)
        self.writers.append(threading.current_thread().name)
        return super().write(text)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    flags = (logging.logProcesses, logging.logMultiprocessing)
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.logProcesses, logging.logMultiprocessing = flags


def test_access_records_are_written_off_the_logging_thread(restored_logging: None) -> None:
    stream = SlowStream()
    stop = configure_logging(stream=stream)  # type: ignore[arg-type]
    access = logging.getLogger("uvicorn.access")
    try:
        started = time.monotonic()
        for n in range(50):
            access.info('%s - "%s %s HTTP/%s" %d', "198.51.100.7:4242", "GET", f"/f{n}", "1.1", 304)
        assert time.monotonic() - started < 0.5  # one write alone takes 1 s
    finally:
        stop()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 50
    assert '198.51.100.7:4242 - "GET /f0 HTTP/1.1" 304 Not Modified' in lines[0]
    assert lines[-1].endswith('"GET /f49 HTTP/1.1" 304 Not Modified')
    assert set(stream.writers) == {"log-writer"}
    assert len(stream.writers) < 10  # batches, not a write per record
