"""A reader's whole journey in headless Chromium against a running ``publisher serve``.

Debian's ``chromium`` (installed by .ci/run) driven by Playwright's Python package; no
browser is downloaded. Without the binary the test is skipped locally and fails under CI.
Each step is checked in the store as well as on the page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from localhost import CHROMIUM, CHROMIUM_ARGS, free_port, require_chromium, wait_until_serving
from webkit import KEY, confirm_link, make_settings, outbox_messages, seed_articles

from publisher.core import Publisher, make_publisher
from publisher.types import ArticleInput, Frequency, Subscriber, SubscriberStatus

KATHMANDU = ("Asia/Kathmandu", "Asia/Katmandu")


@pytest.fixture
def served(project: Path) -> Iterator[tuple[str, Publisher]]:
    """``publisher serve`` on a loopback port, and a Publisher on the same store."""
    yield from serve(project)


def serve(project: Path, **extra: str) -> Iterator[tuple[str, Publisher]]:
    """What ``served`` yields, with more settings (``extra``: environment variables)."""
    require_chromium()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{project / 'var' / 'browser.db'}"
    env = {
        "PUBLISHER_SECRET_KEY": KEY,
        "PUBLISHER_DATABASE__URL": database,
        "PUBLISHER_SITE__URL": base,
        "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
        **extra,
    }
    publisher = make_publisher(make_settings(project, database, **env), create=True)
    seed_articles(publisher)
    server = subprocess.Popen(
        [sys.executable, "-m", "publisher", "--root", str(project), "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(base, server, timeout=20)
        yield base, publisher
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr:
            server.stderr.close()
        publisher.close()


def _wait_for_mail(project: Path) -> str:
    deadline = time.monotonic() + 10
    while not (messages := outbox_messages(project)):
        assert time.monotonic() < deadline, "no confirmation mail in the outbox"
        time.sleep(0.1)
    return confirm_link(messages[-1])


def _digest_send(project: Path, publisher: Publisher) -> None:
    """``publisher digest send`` on the served store, as an editor runs it."""
    env = {
        "PUBLISHER_SECRET_KEY": KEY,
        "PUBLISHER_DATABASE__URL": publisher.settings.database_url,
        "PUBLISHER_SITE__URL": publisher.settings.site.url,
        "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
    }
    result = subprocess.run(
        [sys.executable, "-m", "publisher", "--root", str(project), "digest", "send"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def _reader(publisher: Publisher) -> Subscriber:
    return publisher._services.store.subscribers.get_by_email("reader@example.org")


@pytest.mark.slow
def test_subscribe_confirm_change_preferences_unsubscribe_in_chromium(
    served: tuple[str, Publisher], project: Path
) -> None:
    from playwright.sync_api import sync_playwright

    base, publisher = served
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(timezone_id="Asia/Kathmandu")  # the reader's own clock
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        # 1. Subscribe with the form (keyboard-reachable labels). The page's one script, our
        # own file, fills the hidden time zone field from the browser (Intl.DateTimeFormat).
        page.goto(base + "/")
        assert page.locator("script").count() == 1
        assert page.locator("script").get_attribute("src") == "/static/timezone.js"
        # Chromium's ICU still says the old IANA name, a link tzdata keeps: both are valid.
        assert page.locator("input[name=timezone]").input_value() in KATHMANDU
        page.get_by_label("E-mail address").fill("Reader@Example.org")
        page.get_by_label("Name").fill("Rea Der")
        page.get_by_label("Weekly").check()
        page.get_by_label("Sport").check()
        page.get_by_role("button", name="Subscribe").click()
        assert page.get_by_role("heading", name="Check your inbox").is_visible()
        link = _wait_for_mail(project)
        pending = _reader(publisher)
        assert pending.status is SubscriberStatus.PENDING
        assert (pending.frequency, pending.categories) == (Frequency.WEEKLY, ("sport",))
        assert pending.consent_method == "form" and pending.consent_ip == "127.0.0.1"
        assert pending.timezone in KATHMANDU  # from the browser, for local delivery

        # 2. Open the link from the mail; the GET alone confirms nothing.
        assert link.startswith(base + "/confirm/")
        page.goto(link)
        assert _reader(publisher).status is SubscriberStatus.PENDING
        page.get_by_role("button", name="Confirm my subscription").click()
        assert page.get_by_role("heading", name="You are subscribed").is_visible()
        active = _reader(publisher)
        assert active.status is SubscriberStatus.ACTIVE and active.consent_at is not None

        # 3. Change preferences.
        page.get_by_role("link", name="Choose how often and which topics").click()
        page.get_by_label("Daily").check()
        page.get_by_label("Sport").uncheck()
        page.get_by_label("Local").check()
        page.get_by_role("button", name="Save preferences").click()
        assert page.get_by_text("Your preferences are saved.").is_visible()
        changed = _reader(publisher)
        assert (changed.frequency, changed.categories) == (Frequency.DAILY, ("local",))

        # 4. Unsubscribe from the preferences page (the RFC 8058 form).
        page.get_by_role("button", name="Unsubscribe").click()
        assert page.get_by_role("heading", name="You are unsubscribed").is_visible()
        assert _reader(publisher).status is SubscriberStatus.UNSUBSCRIBED
        assert publisher._services.store.subscribers.eligible(Frequency.DAILY) == []

        # 5. The archive copy of a sent edition renders under its CSP without complaint.
        publisher.store_article(
            ArticleInput(
                title="Fresh story",
                content_html="<p>Fresh.</p>",
                published_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
        _digest_send(project, publisher)  # the product marks the edition sent
        page.goto(base + "/archive")
        page.get_by_role("link", name=re.compile("Daily digest")).click()
        assert page.get_by_text("Fresh story").first.is_visible()
        browser.close()
    assert problems == []
