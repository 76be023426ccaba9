"""Benchmark: ``publisher serve`` against Python's own ``http.server``, with ``wrk``.

    python bench/web.py [--seconds 5] [--clients 10] [--page-clients 50]

Targets: feeds (200 and 304) at >= 1.0 of http.server, home page p99 <= 50 ms.

Needs ``wrk`` (Debian package ``wrk``). In one run, on one project (the sample articles,
SQLite), both servers on loopback with keep-alive:

1. the site's RSS feed: ``publisher serve`` at ``/feeds/...`` against
   ``python -m http.server --protocol HTTP/1.1`` serving the same file (the baseline);
2. the same feed asked conditionally: our ``If-None-Match`` with the feed's ETag, the
   baseline's ``If-Modified-Since`` (what it supports): both answer 304;
3. the home page at PAGE_CLIENTS clients: requests per second and p99 latency, against
   ``http.server`` serving a saved copy of the same page.

Each line prints our rate, the baseline's and the ratio. Run it on a quiet machine. On two
or more cores the servers (ours and the baseline, one at a time) run on the first core and
``wrk`` on the second (``sched_setaffinity``), so the load generator never takes the
server's core and both servers get the same share: on 2 cores, unpinned, the scheduler at
times put wrk and the server on one core and the page's 99th percentile measured that.
The home page is asked without cookies: every request is a new reader's (a fresh CSRF
nonce, token and cookie), the dearest case.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from postfix_tools import free_port

ROOT = Path(__file__).resolve().parent.parent


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def cores() -> tuple[set[int] | None, set[int] | None]:
    """(the servers' core, wrk's core), or (None, None) with fewer than two cores."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return {available[0]}, {available[1]}


SERVER_CORE, CLIENT_CORE = cores()


def pinned(core: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps the child (and its threads) on ``core``."""
    if core is None:
        return None
    return lambda: os.sched_setaffinity(0, core)


def wrk(url: str, clients: int, seconds: int, *headers: str) -> tuple[float, float, int]:
    """Requests/s, p99 latency (ms) and non-2xx/3xx count of a wrk run with keep-alive."""
    command = ["wrk", "-t", "1", "-c", str(clients), "-d", f"{seconds}s", "--latency", url]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, preexec_fn=pinned(CLIENT_CORE)
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, latency, int(bad.group(1)) if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--page-clients", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    folder = Path(tempfile.mkdtemp(prefix="publisher-web-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        (folder / "config").mkdir()
        (folder / "var").mkdir()
        (folder / "config" / "publisher.toml").write_text(
            '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
        env["PUBLISHER_SECRET_KEY"] = "bench-secret-key-0123456789abcdef"
        publisher = [sys.executable, "-m", "publisher", "--root", str(folder)]
        subprocess.run([*publisher, "init"], env=env, check=True, capture_output=True)
        subprocess.run(
            [*publisher, "articles", "import", str(ROOT / "examples" / "articles")],
            env=env,
            check=True,
            capture_output=True,
        )
        feed = next(folder.rglob("rss.xml"))
        feeds_dir = next(p for p in feed.parents if p.name == "feeds")
        ours_port, theirs_port = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [*publisher, "serve", "--no-scheduler", "--no-worker", "--port", str(ours_port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=pinned(SERVER_CORE),
            )
        )
        wait_for(ours_port)
        ours = f"http://127.0.0.1:{ours_port}"
        with urllib.request.urlopen(f"{ours}/") as response:
            (feeds_dir / "home.html").write_bytes(response.read())
        feed_path = "/feeds/" + feed.relative_to(feeds_dir).as_posix()
        with urllib.request.urlopen(ours + feed_path) as response:
            etag = response.headers["ETag"]
            modified = response.headers["Last-Modified"]
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "http.server",
                    "--protocol",
                    "HTTP/1.1",
                    "--bind",
                    "127.0.0.1",
                    "--directory",
                    str(feeds_dir),
                    str(theirs_port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=pinned(SERVER_CORE),
            )
        )
        wait_for(theirs_port)
        theirs = f"http://127.0.0.1:{theirs_port}"
        plain = "/" + feed.relative_to(feeds_dir).as_posix()
        pairs = [
            ("feed 200", ours + feed_path, (), theirs + plain, (), args.clients),
            (
                "feed 304",
                ours + feed_path,
                (f"If-None-Match: {etag}",),
                theirs + plain,
                (f"If-Modified-Since: {modified}",),
                args.clients,
            ),
            ("home page", ours + "/", (), theirs + "/home.html", (), args.page_clients),
        ]
        placing = (
            f"servers on core {min(SERVER_CORE)}, wrk on core {min(CLIENT_CORE)}"
            if SERVER_CORE and CLIENT_CORE
            else "one core: servers and wrk share it"
        )
        print(
            f"wrk, keep-alive, {args.seconds} s per run, {placing}; load {os.getloadavg()[0]:.1f}"
        )
        for label, url, ours_headers, base, base_headers, clients in pairs:
            rate, p99, bad = wrk(url, clients, args.seconds, *ours_headers)
            base_rate, base_p99, base_bad = wrk(base, clients, args.seconds, *base_headers)
            print(
                f"{label:10} ({clients} clients): publisher {rate:8.0f} req/s p99 {p99:7.1f} ms"
                f" | http.server {base_rate:8.0f} req/s p99 {base_p99:7.1f} ms"
                f" | ratio {rate / base_rate:5.2f}"
                + (f" (errors: ours {bad}, theirs {base_bad})" if bad or base_bad else "")
            )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
