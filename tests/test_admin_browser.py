"""The dashboard in headless Chromium: sign in, test copy, send, progress, a click counted.

``publisher serve`` runs as its own process and delivers into aiosmtpd; the browser signs
in with the form, sends a test copy to the editor, sends the edition with the confirmation
step, watches the edition page reach 100 %, then opens a link from a mail the SMTP server
received and sees the edition's click count rise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_support import EDITOR, PASSWORD, READERS, ServedNewsroom, html_of, tracked_links
from localhost import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.slow
READER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


@pytest.fixture
def newsroom(tmp_path: Path) -> Iterator[ServedNewsroom]:
    require_chromium()
    with ServedNewsroom(tmp_path) as served:
        yield served


def test_editor_sends_and_sees_a_click_counted(newsroom: ServedNewsroom) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)

        # Anonymous: the dashboard sends us to the sign-in form.
        page.goto(newsroom.url + "/admin")
        assert page.url.endswith("/admin/login")
        page.fill("#email", EDITOR)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

        # A test copy to the editor, received by the SMTP server.
        page.click("text=Send test copy")
        expect(page.get_by_role("status")).to_contain_text(f"test copy sent to {EDITOR}")
        assert newsroom.received(EDITOR), "the test copy did not arrive"

        # Send now, with the confirmation step; the edition page reloads until 100 %.
        page.click("text=Send now…")
        expect(
            page.get_by_role("heading", name=re.compile("Send the daily digest"))
        ).to_be_visible()
        page.check("input[name=confirm]")
        page.click("button:has-text('Send')")
        expect(page.locator("#percent")).to_have_text("100 %", timeout=30_000)
        expect(page.locator("#state")).to_have_text("sent")
        edition_page = page.url
        assert all(newsroom.received(reader) for reader in READERS)

        # A reader follows the first story's link from the mail they got.
        mail = html_of(newsroom.received(READERS[0])[0])
        assert tracked_links(mail), "no tracked link in the mail"
        story = re.search(r'<p class="title[^>]*><a href="([^"]+/r/[^"]+)"[^>]*>([^<]+)', mail)
        assert story, "no story link in the mail"
        assert page.locator("#clicks-human").inner_text() == "0"
        # A reader's own browser: headless Chromium's user agent is a scanner's.
        reader = browser.new_page(user_agent=READER_AGENT)
        reader.goto(story.group(1))
        assert "/articles/" in reader.url
        expect(reader.get_by_role("heading", name=story.group(2).strip())).to_be_visible()
        reader.close()

        # The count rises (the web service writes its tally once a second).
        for _ in range(20):
            page.goto(edition_page)
            if page.locator("#clicks-human").inner_text() == "1":
                break
            page.wait_for_timeout(500)
        assert page.locator("#clicks-human").inner_text() == "1"
        browser.close()
