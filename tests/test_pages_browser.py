"""Every public page in headless Chromium: no horizontal scrolling from phone to desktop
width, and no serious or critical axe-core finding (contrast included), in the light and the
dark colour scheme.

axe-core comes from npm into the git-ignored ``.tools/npm`` folder (``.ci/run`` installs it,
as it does doiuse-email); it is injected into each page with the page's CSP bypassed, since
the product's own CSP allows no script. Without Chromium or axe-core the test is skipped
locally and fails under CI.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from localhost import CHROMIUM, CHROMIUM_ARGS
from test_web_browser import _digest_send, serve

from publisher.core import Publisher, Purpose
from publisher.types import ArticleInput, Category

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / ".tools" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (320, 390, 768, 1280)
SCHEMES = ("light", "dark")
BLOCKING = {"serious", "critical"}


def require_axe() -> None:
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE} is missing under CI (.ci/run installs axe-core)")
        pytest.skip("npm axe-core not installed (.ci/run installs it)")


def public_paths(base: str, publisher: Publisher, project: Path) -> dict[str, str]:
    """Every kind of public page, reached as a reader reaches it (links the product made)."""
    publisher.store_article(
        ArticleInput(
            title="Harbour lights return after a long winter of repairs to the old quay",
            summary="The quay's lamps are lit again tonight.",
            content_html="<p>The quay's lamps are lit again.</p><p>"
            + "Averyveryveryverylongwordwithoutanybreakpoints" * 3
            + "</p>",
            published_at=datetime.now(UTC) - timedelta(hours=1),
            categories=(Category("local", "Local"),),
            image_url="https://news.example.org/img/quay.jpg",
            image_alt="The old quay at dusk",
        )
    )
    _digest_send(project, publisher)
    edition = publisher.sent_editions(1, 0)[0]
    article = publisher.articles(limit=1)[0]
    category = publisher.categories()[0]
    return {
        "home": "/",
        "article": f"/articles/{article.slug}",
        "category": f"/categories/{category.slug}",
        "archive": "/archive",
        "edition": f"/archive/{edition.key}",
        "feeds": "/feeds/",
        "rss (XSLT)": "/feeds/rss.xml",
        "atom (XSLT)": "/feeds/atom.xml",
        "unsubscribe": "/unsubscribe",
        "preferences (ask)": "/preferences",
        "not found": "/no/such/page",
        "bad link": "/confirm/not-a-token",
    }


def reader_paths(publisher: Publisher) -> dict[str, str]:
    """The pages behind a reader's signed links (after subscribing through the form)."""
    deadline = time.monotonic() + 10
    while not (readers := list(publisher.subscribers())):  # made off the request path
        assert time.monotonic() < deadline, "the subscription was not stored"
        time.sleep(0.1)
    reader = readers[0]
    return {
        "confirm": publisher.signed_path(Purpose.CONFIRM, reader),
        "preferences": publisher.signed_path(Purpose.PREFERENCES, reader),
        "unsubscribe (signed)": publisher.signed_path(Purpose.UNSUBSCRIBE, reader),
    }


def check_page(page: Any, url: str | None, name: str, problems: list[str]) -> None:
    """Layout at each width and axe in each scheme; ``url`` None checks the loaded page
    (the answer to a form post) without loading it again."""
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        if url is not None:
            page.goto(url, wait_until="load")
            page.wait_for_function("document.readyState === 'complete' && !!document.body")
        for width in WIDTHS:  # the layout follows a resize: no reload needed
            page.set_viewport_size({"width": width, "height": 800})
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                problems.append(f"{name} ({scheme}, {width}px): scrollWidth {scroll}")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            # Chromium adds its own XSLT deprecation banner to feed pages: not our content.
            "async () => (await axe.run({exclude: [['xslt-warning-banner']]},"
            " {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,"
            " target: v.nodes[0] && v.nodes[0].target.join(' ')}))"
        )
        for violation in result:
            if violation["impact"] in BLOCKING:
                problems.append(f"{name} ({scheme}): axe {violation}")


SITES = {  # English and a right-to-left language, with the newsroom's words in each
    "en": {"PUBLISHER_SITE__LANGUAGE": "en"},
    "ur": {
        "PUBLISHER_SITE__LANGUAGE": "ur",
        "PUBLISHER_SITE__TITLE": "روزنامہ کراچی",
        "PUBLISHER_SITE__DESCRIPTION": "شہر کی خبریں۔",
    },
}


@pytest.fixture(params=sorted(SITES))
def served(request: pytest.FixtureRequest, project: Path) -> Iterator[tuple[str, Publisher]]:
    yield from serve(project, **SITES[str(request.param)])


@pytest.mark.slow
def test_every_public_page_fits_phones_and_passes_axe(
    served: tuple[str, Publisher], project: Path
) -> None:
    from playwright.sync_api import sync_playwright

    require_axe()
    base, publisher = served
    paths = public_paths(base, publisher, project)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(bypass_csp=True)
        page = context.new_page()
        for name, path in paths.items():
            check_page(page, base + path, name, problems)
        # A browser opening a feed sees a page that explains it (the XSLT), not XML source.
        page.goto(base + "/feeds/rss.xml", wait_until="load")
        page.wait_for_selector("main a[href='/feeds/']", timeout=10_000)  # the XSLT's page
        assert page.locator("h1").inner_text() == publisher.settings.site.title
        # Subscribing through the form: the answer page, then the reader's own pages.
        page.goto(base + "/")
        page.locator("#email").fill("reader@example.org")
        page.locator("form.subscribe button[type=submit]").click()
        page.wait_for_load_state()
        check_page(page, None, "subscribed", problems)
        for name, path in reader_paths(publisher).items():
            check_page(page, base + path, name, problems)
        browser.close()
    assert not problems, "\n".join(problems)
