"""Benchmark: the web service under concurrent clients, each route against a baseline.

``click_redirect_vs_static``: the p99 latency of ``GET /r/TOKEN`` (a tracked link of a sent
edition: HMAC check, cached target, in-memory tally, 302) against ``GET /static/site.css``
(a small static file) served by the same ``publisher serve`` process, under 50 concurrent
clients. The two run in alternating rounds so a change in the machine's load hits both.
Target: the redirect's p99 at most 1.2x the static file's.

    .venv/bin/python bench/web_clicks.py [--clients 50] [--requests 4000] [--rounds 4]

The project is made as a user makes it: ``publisher init``, ``subscribers add``,
``articles import``, ``digest send`` (the outbox transport), then ``publisher serve``; the
tracked link is read from the mail in the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
from postfix_tools import free_port

SECRET = "bench-web-secret-key-0123456789abcdef"


class Project:
    """A project folder with one sent edition, and ``publisher serve`` on loopback."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")},
            "PUBLISHER_SECRET_KEY": SECRET,
            "PUBLISHER_DATABASE__URL": f"sqlite:///{root / 'bench.db'}",
            "PUBLISHER_SITE__URL": self.url,
            "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
        }
        self.server: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "publisher", "--root", str(self.root), *args],
            env=self.env,
            check=True,
            capture_output=True,
        )

    def send_edition(self) -> str:
        """One article, one reader, ``digest send``; the first tracked link of the mail."""
        folder = self.root / "articles"
        folder.mkdir()
        (folder / "story.md").write_text(
            "---\ntitle: Bridge reopens\n---\nThe bridge is open again.\n", encoding="utf-8"
        )
        self.cli("init")
        self.cli("articles", "import", str(folder))
        self.cli("subscribers", "add", "reader@example.org", "--confirmed")
        self.cli("digest", "send")
        mail = next((self.root / "var" / "outbox").rglob("*.eml"))
        message = message_from_bytes(mail.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(("plain",))
        assert part is not None
        text = part.get_content()
        found = re.search(r"/r/[a-z0-9.]+", text)
        assert found, "no tracked link in the mail"
        return found.group(0)

    def serve(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, "-m", "publisher", "--root", str(self.root), "serve",
             "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("publisher serve did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=10)


async def load(base: str, path: str, clients: int, requests: int) -> list[float]:
    """``requests`` GETs of ``path`` by ``clients`` concurrent connections; latencies in s."""
    latencies: list[float] = []
    per_client = requests // clients
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one_client(n: int) -> None:
            agent = {"user-agent": f"Mozilla/5.0 (bench client {n}) Chrome/130.0"}
            for _ in range(per_client):
                start = time.perf_counter()
                answer = await client.get(path, headers=agent, follow_redirects=False)
                latencies.append(time.perf_counter() - start)
                assert answer.status_code in (200, 302), answer.status_code

        await asyncio.gather(*(one_client(n) for n in range(clients)))
    return latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def click_redirect_vs_static(clients: int, requests: int, rounds: int) -> float:
    """Print p50/p99 of the redirect and of the static file; return the p99 ratio."""
    with tempfile.TemporaryDirectory(prefix="publisher-bench-web-") as work:
        project = Project(Path(work))
        link = project.send_edition()
        project.serve()
        try:
            asyncio.run(load(project.url, "/static/site.css", clients, clients * 4))  # warm-up
            asyncio.run(load(project.url, link, clients, clients * 4))
            static: list[float] = []
            click: list[float] = []
            for _ in range(rounds):
                static += asyncio.run(load(project.url, "/static/site.css", clients, requests))
                click += asyncio.run(load(project.url, link, clients, requests))
        finally:
            project.stop()
    ratio = p99(click) / p99(static)
    print(f"{clients} concurrent clients, {len(static)} requests per route in {rounds} rounds")
    for name, values in (("static /static/site.css", static), ("click   /r/TOKEN", click)):
        print(
            f"  {name}: p50 {statistics.median(values) * 1000:.1f} ms, "
            f"p99 {p99(values) * 1000:.1f} ms"
        )
    print(f"  click p99 / static p99 = {ratio:.2f} (target <= 1.2)")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    click_redirect_vs_static(args.clients, args.requests, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
