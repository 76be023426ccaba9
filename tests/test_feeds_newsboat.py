"""newsboat, a real feed reader, fetching our feeds from a running ``publisher serve``.

newsboat is a Debian package (``.ci/run`` installs it). Locally the test is skipped when it
is missing; under CI (``CI`` set) a missing newsboat fails, so it can never pass silently.
newsboat exits 0 even on errors, so the test reads its log (``USERERROR`` lines) and its
cache database. Note: newsboat 2.21 (Debian 12) stores a new feed's ETag/Last-Modified
only from its second fetch on (on the first, the UPDATE runs before the feed row exists),
so its first conditional request, the one that must get 304, is its third fetch.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parent.parent / "examples" / "articles"
FEEDS = ["feeds/rss.xml", "feeds/atom.xml", "feeds/category/local/rss.xml"]


def _require_newsboat() -> str:
    found = shutil.which("newsboat")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("newsboat is not installed under CI (.ci/run installs it)")
        pytest.skip("newsboat not installed (apt-get install newsboat)")
    return found


def _publisher(*args: str) -> list[str]:
    return [sys.executable, "-m", "publisher", *args]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "publisher.toml").write_text(
        f'[site]\nurl = "{base}"\ntitle = "Example News"\n', encoding="utf-8"
    )
    subprocess.run(
        _publisher("--root", str(root), "init", "--samples", str(EXAMPLES)),
        check=True,
        capture_output=True,
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _publisher("--root", str(root), "serve", "--port", str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "publisher serve did not start"
                time.sleep(0.1)
            yield base, log
        finally:
            process.terminate()
            process.wait(timeout=10)


def _fetch(newsboat: str, work: Path, n: int) -> str:
    """One newsboat run (reload every feed); returns its debug log."""
    log = work / f"newsboat-{n}.log"
    subprocess.run(
        [newsboat, "-u", str(work / "urls"), "-c", str(work / "cache.db"),
         "-C", str(work / "config"), "-x", "reload", "print-unread", "-l", "6", "-d", str(log)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True,
        env={**os.environ, "HOME": str(work)},
    )  # fmt: skip
    return log.read_text(encoding="utf-8", errors="replace")


def test_newsboat_reads_every_item_and_gets_304_once_it_has_validators(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    newsboat = _require_newsboat()
    base, serve_log = server
    work = tmp_path / "newsboat"
    work.mkdir()
    urls = [f"{base}/{path}" for path in FEEDS]
    (work / "urls").write_text("\n".join(urls) + "\n", encoding="utf-8")
    (work / "config").write_text("", encoding="utf-8")

    first = _fetch(newsboat, work, 1)
    assert "USERERROR" not in first, [x for x in first.splitlines() if "USERERROR" in x]
    expected = {}
    for url in urls:
        feed = feedparser.parse(httpx.get(url).content)
        assert not feed.bozo and feed.entries
        expected.update({e.id: e.title for e in feed.entries})
    with sqlite3.connect(work / "cache.db") as db:
        stored = dict(db.execute("SELECT guid, title FROM rss_item").fetchall())
    assert stored == expected  # every item, merged across feeds by guid

    answered: dict[str, str] = {}
    for n in (2, 3):
        before = len(serve_log.read_text().splitlines())
        log = _fetch(newsboat, work, n)
        assert "USERERROR" not in log
        requests = _logged(serve_log, before, [f"GET /{path} " for path in FEEDS])
        for url, path in zip(urls, FEEDS, strict=True):
            line = next(x for x in requests if f"GET /{path} " in x)
            if _sent(log, url) and url not in answered:
                answered[url] = line
    assert set(answered) == set(urls), "newsboat never sent validators"
    assert all("304 Not Modified" in line for line in answered.values()), answered
    # newsboat's own log shows the 304: validators sent, no body retrieved.
    assert f"retrieved data for {urls[0]}: \n" in _fetch(newsboat, work, 4)


def _logged(serve_log: Path, before: int, wanted: list[str]) -> list[str]:
    """The server's log lines after line ``before``, once every ``wanted`` request is in.

    The access log is written by a background thread every few tens of milliseconds, so
    a request newsboat has made may reach the file a moment after newsboat exits.
    """
    deadline = time.monotonic() + 5
    while True:
        lines = serve_log.read_text().splitlines()[before:]
        if all(any(w in x for x in lines) for w in wanted) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def _sent(log: str, url: str) -> bool:
    """Whether newsboat sent stored validators (a non-zero Last-Modified) for ``url``."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if f"rssurl = '{url}'" in line and "SELECT lastmodified" in line:
            for follow in lines[i + 1 : i + 4]:
                if "fetch_lastmodified: t = " in follow:
                    return "t = 0 " not in follow
    return False
