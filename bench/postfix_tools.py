"""Loopback helpers for the benchmarks: a free port, and Postfix's test tools for the send
benchmarks, ``smtp-sink`` (a server that accepts and discards) and ``smtp-source`` (the
baseline: how fast Postfix itself pushes mail into it).

Debian's ``postfix`` package ships both; the Postfix daemon need not run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_tools() -> None:
    """Stop with one line when Postfix's test tools are missing."""
    for tool in ("smtp-sink", "smtp-source"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install postfix")


def start_sink(port: int) -> subprocess.Popen[bytes]:
    """``smtp-sink`` on loopback, ready when this returns (as nobody when run as root)."""
    command = ["smtp-sink", f"127.0.0.1:{port}", "1024"]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    sink = subprocess.Popen(command)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return sink
        except OSError:
            time.sleep(0.05)
    raise SystemExit("smtp-sink did not start")


def smtp_source(port: int, count: int, size: int, connections: int = 4) -> float:
    """Messages per second ``smtp-source -s CONNECTIONS`` sends into the sink (the baseline)."""
    command = ["smtp-source", "-d", "-s", str(connections), "-m", str(count), "-l", str(size)]
    command += ["-f", "digest@news.example.org", "-t", "reader@example.org", f"127.0.0.1:{port}"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return count / (time.perf_counter() - started)
