"""A newsroom served for a browser: ``publisher serve`` on loopback delivering into aiosmtpd.

Used by the dashboard's browser test and by ``scripts/screenshots``: readers and an editor
are added with the command line, articles through the publishing API, and the web service
runs as a separate process, as in production.
"""

from __future__ import annotations

import os
import quopri
import re
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType

import httpx
from localhost import free_port, wait_until_serving
from smtp_counter import CountingServer

SECRET = "dashboard-secret-key-0123456789abcdef"
API_TOKEN = "cms-token-dashboard"
EDITOR = "editor@news.example.org"
PASSWORD = "correct horse battery"
READERS = ("reader@example.org", "sport.fan@example.org", "local.news@example.org")
STORIES = (
    ("Bridge reopens after two years", "Local"),
    ("Cup final tonight: what to expect", "Sport"),
    ("Council approves the new library", "Local"),
    ("Marathon route changes this year", "Sport"),
)


class ServedNewsroom:
    """A project folder, an SMTP server that keeps what it accepts, and ``serve``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.smtp = CountingServer(keep=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PUBLISHER_SECRET_KEY": SECRET,
            "PUBLISHER_DATABASE__URL": f"sqlite:///{root / 'news.db'}",
            "PUBLISHER_SITE__URL": self.url,
            "PUBLISHER_SITE__TITLE": "Riverside Gazette",
            "PUBLISHER_WEB__API_TOKEN": API_TOKEN,
            "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
            "PUBLISHER_MAIL__TRANSPORT": "smtp",
            "PUBLISHER_SMTP__HOST": "127.0.0.1",
            "PUBLISHER_SMTP__PORT": str(self.smtp.port),
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.log = (root / "serve.log").open("wb")

    def cli(self, *args: str, stdin: str = "") -> str:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
        done = subprocess.run(
            [sys.executable, "-m", "publisher", "--root", str(self.root), *args],
            input=stdin.encode(),
            capture_output=True,
            env={**environ, **self.env},
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def __enter__(self) -> ServedNewsroom:
        self.smtp.__enter__()
        self.cli("init")
        self.cli("admin", "add-user", EDITOR, stdin=PASSWORD + "\n")
        for reader in READERS:
            self.cli("subscribers", "add", reader, "--confirmed")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
        self.server = subprocess.Popen(
            [sys.executable, "-m", "publisher", "--root", str(self.root), "serve",
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env={**environ, **self.env},
        )  # fmt: skip
        wait_until_serving(self.url, self.server)
        for title, category in STORIES:
            answer = httpx.post(
                f"{self.url}/api/articles",
                json={
                    "title": title,
                    "content_html": f"<p>{title}: the story.</p>",
                    "summary": f"What happened: {title.lower()}.",
                    "categories": [category],
                },
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            )
            assert answer.status_code == 201, answer.text
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=10)
        self.log.close()
        self.smtp.__exit__(kind, value, traceback)

    def received(self, recipient: str) -> list[EmailMessage]:
        found = []
        for to, data in list(self.smtp.handler.messages):
            if to == recipient:
                message = message_from_bytes(data, policy=policy.default)
                assert isinstance(message, EmailMessage)
                found.append(message)
        return found


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    raw = part.get_payload(decode=False)
    assert isinstance(raw, str)
    return quopri.decodestring(raw.encode("ascii")).decode("utf-8")


def tracked_links(html: str) -> list[str]:
    """The ``/r/`` links of a digest, in order (an article's title link comes first)."""
    return re.findall(r'href="(https?://[^"]+/r/[^"]+)"', html)
