"""The rendered digest in headless Chromium: what a phone-sized mail client shows.

Debian's ``chromium`` driven by Playwright's Python package (as in test_web_browser.py);
skipped locally without the binary, failing under CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from digest_sample import sample_articles, sample_recipient
from digest_support import parts, render_sample
from localhost import CHROMIUM, CHROMIUM_ARGS, require_chromium
from test_digest_render import hostile


@pytest.mark.slow
def test_e1_an_unbroken_word_does_not_widen_the_digest_past_a_phone(tmp_path: Path) -> None:
    """A 300-character summary without spaces (a pasted URL or hash) and a long title wrap
    inside the 375 px viewport: without word-break the table grew to fit the word and the
    whole digest, preheader and footer included, needed sideways scrolling (E1)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    articles = [
        *sample_articles(2),
        hostile(90, "Supercalifragilisticexpialidocious" * 8, summary="x" * 1500),
    ]
    _, html = parts(render_sample(articles).message_for(sample_recipient()).data)
    page_file = tmp_path / "digest.html"
    page_file.write_text(html, encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            for width in (375, 600):
                page = browser.new_page(viewport={"width": width, "height": 800})
                page.goto(page_file.as_uri())
                assert page.get_by_text("x" * 30, exact=False).count() == 1
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{scroll} px wide in a {width} px viewport"
                page.close()
        finally:
            browser.close()
