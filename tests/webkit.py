"""Helpers shared by the web and subscriber tests: a project with a key, the outbox, CSRF."""

from __future__ import annotations

import quopri
import re
import warnings
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from publisher.config import Settings, load_settings
from publisher.core import Publisher
from publisher.types import ArticleInput, Category

with warnings.catch_warnings():
    # starlette 1.x prefers the httpx2 package for its TestClient; httpx works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient as StarletteClient

KEY = "test-secret-key-for-signing-links-0123456789"
API_TOKEN = "cms-token-5f0c2a"
LOCAL = Category("local", "Local")
SPORT = Category("sport", "Sport")
_CONFIRM = re.compile(r"https?://\S+/confirm/[A-Za-z0-9._-]+")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

__all__ = ["StarletteClient", "TestClient"]


class TestClient(StarletteClient):
    """Starlette's client that, after each request, waits for the mail work it queued.

    The app sends subscription mails from its job threads, off the request path (as a
    reader waits for the mail to arrive); tests read the outbox right after the answer.
    """

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        jobs = getattr(getattr(self.app, "state", None), "jobs", None)
        if jobs is not None:
            jobs.join()
        return response


def make_settings(project: Path, database_url: str, **env: str) -> Settings:
    environ = {
        "PUBLISHER_SECRET_KEY": KEY,
        "PUBLISHER_DATABASE__URL": database_url,
        "PUBLISHER_WEB__API_TOKEN": API_TOKEN,
        "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
        **env,
    }
    return load_settings(project, environ=environ)


def seed_articles(publisher: Publisher) -> None:
    from datetime import UTC, datetime

    for title, cat in (("Bridge opens", LOCAL), ("Cup final tonight", SPORT)):
        publisher.store_article(
            ArticleInput(
                title=title,
                content_html=f"<p>{title}.</p>",
                published_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
                categories=(cat,),
                authors=("Ann Writer",),
            )
        )


def outbox_messages(project: Path) -> list[EmailMessage]:
    folder = project / "var" / "outbox" / "confirmations"
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in files]


def confirm_link(message: EmailMessage) -> str:
    text_part = message.get_body(("plain",))
    assert text_part is not None
    raw = text_part.get_payload(decode=False)
    assert isinstance(raw, str)
    decoded = quopri.decodestring(raw.encode("ascii")).decode("utf-8")
    match = _CONFIRM.search(decoded)
    assert match, decoded
    return match.group(0)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)
