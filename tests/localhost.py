"""Real parts on this machine that several tests use: free loopback ports, Debian's Chromium.

Chromium is Debian's package (``.ci/run`` installs it), driven by Playwright's Python
package; no browser is downloaded. Without it a test is skipped locally and fails under CI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's hosts at every
# start, which this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_chromium() -> None:
    """Skip without Debian's Chromium, except under CI, where its absence is a failure."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI (apt package chromium)")
        pytest.skip(f"{CHROMIUM} not installed")


def wait_until_serving(base: str, process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Return once ``base``/healthz answers 200; RuntimeError if the process dies or hangs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"publisher serve did not start at {base}")
        time.sleep(0.1)
