"""Quality gates on a rendered sample digest, with the tools readers' mail systems use.

SpamAssassin, the caniemail data (npm ``doiuse-email``) and headless Chromium are installed
by ``.ci/run``. Without them these tests are skipped locally and fail under CI, so a gate
can never pass by being absent.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from digest_sample import sample_recipient, urdu_sample_articles, urdu_sample_options
from digest_support import parts, render_sample

ROOT = Path(__file__).resolve().parent.parent
DOIUSE = ROOT / ".tools" / "npm" / "node_modules" / "doiuse-email" / "bin" / "cli.js"
CLIENTS = "gmail.*,outlook.windows,apple-mail.macos,yahoo.desktop-webmail"

# Reviewed caniemail errors we accept, each with its reason.
ALLOWED_CANIEMAIL_ERRORS = {
    # The phone layout (@media max-width) is an enhancement: Gmail's mobile web client
    # ignores it and shows the 600 px table scaled to the screen, still readable.
    "`@media` is not supported by `gmail.mobile-webmail`",
    # Outlook for Windows is a desktop client: it always gets the 600 px layout, which is
    # the inlined default the media query only overrides on narrow screens.
    "`@media` is not supported by `outlook.windows`",
}

RELAY = (
    b"Received: from mail.news.example.org (mail.news.example.org [93.184.216.34])\r\n"
    b"\tby mx.example.com (Postfix) with ESMTPS id 4ABC123\r\n"
    b"\tfor <reader42@example.com>; Fri, 27 Nov 2026 07:00:01 +0000\r\n"
)


def require(found: bool, what: str) -> None:
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not installed under CI (.ci/run installs it)")
        pytest.skip(f"{what} not installed (.ci/run installs it)")


def sample_message(language: str = "en") -> bytes:
    """The sample digest; in Urdu (right to left, mirrored tables, mixed scripts) on request."""
    if language == "ur":
        options, articles = urdu_sample_options(), urdu_sample_articles()
        return render_sample(articles, options=options).message_for(sample_recipient()).data
    return render_sample().message_for(sample_recipient()).data


SAMPLES = ["en", "ur"]


@pytest.mark.slow
@pytest.mark.parametrize("language", SAMPLES)
def test_spamassassin_scores_the_sample_digest_at_most_zero(tmp_path: Path, language: str) -> None:
    require(shutil.which("spamassassin") is not None, "spamassassin")
    env = dict(os.environ, HOME=str(tmp_path))
    result = subprocess.run(
        ["spamassassin", "-L", "-t"],
        input=RELAY + sample_message(language),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    report = result.stdout.decode("utf-8", "replace")
    match = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", report)
    assert match, report[-2000:]
    score = float(match.group(1))
    assert score <= 0, report[report.index("Content analysis") :]
    assert "MAILING_LIST_MULTI" in report  # List-Unsubscribe, List-Id, Precedence recognised


@pytest.mark.parametrize("language", SAMPLES)
def test_caniemail_reports_no_errors_outside_the_allowlist(tmp_path: Path, language: str) -> None:
    require(DOIUSE.exists() and shutil.which("node") is not None, "npm doiuse-email")
    page = tmp_path / "digest.html"
    page.write_text(parts(sample_message(language))[1], encoding="utf-8")
    result = subprocess.run(
        ["node", str(DOIUSE), "-e", CLIENTS, str(page)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    unexpected = sorted(set(report["errors"]) - ALLOWED_CANIEMAIL_ERRORS)
    assert unexpected == []


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def framed(html: str, width: int) -> str:
    """The digest in an iframe ``width`` px wide (headless windows are at least 500 px)."""
    return (
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="f" style="border:0;width:{width}px;height:900px" '
        f'srcdoc="{html_lib.escape(html, quote=True)}"></iframe>'
        "<script>window.addEventListener('load', function () {"
        "var d = document.getElementById('f').contentDocument;"
        "var c = d.querySelector('.container');"
        "document.body.setAttribute('data-measure', d.documentElement.scrollWidth + ' ' +"
        " Math.round(c.getBoundingClientRect().width));});</script></body></html>"
    )


@pytest.mark.slow
@pytest.mark.parametrize("language", SAMPLES)
@pytest.mark.parametrize("width", [375, 600])
def test_layout_fits_the_screen_in_headless_chromium(
    tmp_path: Path, width: int, language: str
) -> None:
    """Fluid on phones: at 375 px nothing is wider than the screen; at 600 px full width
    (left to right and right to left)."""
    browser = chromium()
    require(browser is not None, "chromium")
    assert browser is not None
    page = tmp_path / "digest.html"
    page.write_text(framed(parts(sample_message(language))[1], width), encoding="utf-8")
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={width},900",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    dom = result.stdout.decode("utf-8", "replace")
    match = re.search(r'data-measure="(\d+) (\d+)"', dom)
    assert match, result.stderr.decode("utf-8", "replace")[-1500:]
    page_width, container = int(match.group(1)), int(match.group(2))
    assert page_width <= width
    assert container == min(width, 600)


@pytest.mark.slow
def test_screenshot_script_writes_both_widths(tmp_path: Path) -> None:
    require(chromium() is not None, "chromium")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshots"), "--out", str(tmp_path)],
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert png_size(tmp_path / "digest-375.png")[0] == 375
    assert png_size(tmp_path / "digest-600.png")[0] == 600
    assert "Unsubscribe" in (tmp_path / "digest-email.html").read_text(encoding="utf-8")
