"""Property tests: arbitrary input never escapes as anything but IngestError, and the
output HTML never carries script or event-handler attributes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import lxml.html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.exceptions import IngestError
from publisher.ingest import FORMATS, IngestOptions, parse_bytes
from publisher.types import ArticleInput

OPTIONS = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("Europe/Paris"))
NOW = datetime(2024, 6, 1, tzinfo=UTC)
UNSAFE_URL = re.compile(r"^\s*(?:javascript|data|vbscript):", re.IGNORECASE)


def unsafe_markup(html: str) -> list[str]:
    """What a browser would run: script/iframe elements, on* attributes, script URLs.

    The HTML is parsed, so text that merely reads like markup (escaped) is not flagged.
    """
    if not html.strip():
        return []
    found: list[str] = []
    for element in lxml.html.fragment_fromstring(html, create_parent="div").iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in ("script", "iframe", "object", "embed", "style"):
            found.append(element.tag)
        for name, value in element.attrib.items():
            if name.lower().startswith("on") or name.lower() == "style":
                found.append(f"{element.tag}[{name}]")
            if name in ("href", "src") and UNSAFE_URL.match(value):
                found.append(f"{element.tag}[{name}={value}]")
    return found


HOSTILE = st.sampled_from(
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)" onmouseover=alert(2)>x</a>',
        "<svg onload=alert(1)>",
        "<scr<script>ipt>alert(1)</script>",
        '<p style="x" ONCLICK="y">z</p>',
        "\x00\x07\x1b",
        "# heading\n",
        "---\n",
        "[link](javascript:alert(1))",
        "<iframe src=//evil>",
    ]
)
TEXT = st.lists(st.one_of(st.text(), HOSTILE), max_size=6).map("".join)


def check(results: list[ArticleInput | IngestError]) -> None:
    for result in results:
        if isinstance(result, IngestError):
            continue
        html = result.content_html
        assert unsafe_markup(html) == [], html
        assert result.title and "\x07" not in result.title and "\n" not in result.title


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(title=TEXT, body=TEXT)
def test_markdown_title_and_body_never_fail_unexpectedly(title: str, body: str) -> None:
    source = f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n{body}"
    try:
        results = parse_bytes(source.encode("utf-8", "surrogatepass"), "p.md", OPTIONS, now=NOW)
    except IngestError:
        return
    check(results)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=TEXT)
def test_markdown_body_with_heading_title(text: str) -> None:
    try:
        results = parse_bytes(
            f"# {text}\n\n{text}".encode("utf-8", "surrogatepass"), "p.md", OPTIONS
        )
    except IngestError:
        return
    check(results)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    data=st.one_of(st.binary(max_size=300), TEXT.map(lambda s: s.encode("utf-8", "surrogatepass"))),
    fmt=st.sampled_from(FORMATS),
)
def test_any_bytes_in_any_format_raise_only_ingest_error(data: bytes, fmt: str) -> None:
    try:
        results = parse_bytes(data, f"input.{fmt}", OPTIONS, fmt=fmt, now=NOW)
    except IngestError as error:
        assert error.reason and "\n" not in error.reason
        return
    check(results)
