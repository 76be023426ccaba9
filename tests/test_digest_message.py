"""The digest message against docs' email rules, each test named by its rule id (M, B, E)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import dkim
import pytest
from digest_sample import (
    SAMPLE_ISSUED,
    SAMPLE_KEY,
    sample_articles,
    sample_options,
    sample_recipient,
)
from digest_support import make_dkim_key, parse, parts, render_sample

from publisher.digest import SIGNED_HEADERS, load_signer, message_id_for
from publisher.exceptions import ConfigError
from publisher.types import Article, Category, Subscriber


def sample_message(name: str = "Ann Reader", subscriber_id: int = 42) -> bytes:
    edition = render_sample(subscribers=[Subscriber(subscriber_id, "x@example.com")])
    return edition.message_for(sample_recipient(subscriber_id, name)).data


def header_lines(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return re.sub(r"\r\n[ \t]", " ", head).split("\r\n")


def unfolded(data: bytes, name: str) -> list[str]:
    prefix = name.lower() + ":"
    lines = header_lines(data)
    return [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith(prefix)]


# --- Message --------------------------------------------------------------------------------


def test_m1_exactly_one_of_each_required_header() -> None:
    data = sample_message()
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        assert len(unfolded(data, name)) == 1, name
    message = parse(data)
    assert len(message["From"].addresses) == 1
    assert message["Date"].endswith("+0000")  # format_datetime(UTC), never "-0000"
    assert parsedate_to_datetime(message["Date"]) == SAMPLE_ISSUED


def test_m1_message_id_is_derived_from_edition_and_subscriber() -> None:
    first = message_id_for(SAMPLE_KEY, 42, "news.example.org")
    assert first == message_id_for(SAMPLE_KEY, 42, "news.example.org")
    assert first != message_id_for(SAMPLE_KEY, 43, "news.example.org")
    assert first != message_id_for("daily/2026-11-28", 42, "news.example.org")
    assert re.fullmatch(r"<daily-2026-11-27\.42\.[0-9a-f]{12}@news\.example\.org>", first)
    assert parse(sample_message())["Message-ID"] == first


def test_m2_multipart_alternative_text_first_with_the_same_articles() -> None:
    data = sample_message()
    message = parse(data)
    assert message.get_content_type() == "multipart/alternative"
    subtypes = [p.get_content_type() for p in message.iter_parts()]
    assert subtypes == ["text/plain", "text/html"]
    text, html = parts(data)
    for article in sample_articles(8):
        assert article.title in text and article.url in text
        assert article.url in html
        if article.summary:
            assert article.summary.split(",")[0] in " ".join(text.split())


def test_m3_quoted_printable_and_line_limits_with_long_values() -> None:
    long_name = "Zoë " + "Bartholomew-Maximilian " * 6
    edition = render_sample(subscribers=[Subscriber(42, "x@example.com")])
    recipient = dataclasses.replace(
        sample_recipient(42, long_name),
        unsubscribe_url="https://news.example.org/unsubscribe/" + "T" * 300,
        preferences_url="https://news.example.org/preferences/" + "P" * 300,
    )
    data = edition.message_for(recipient).data
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert all(len(line) <= 76 for line in body.split(b"\r\n")), "QP lines over 76"
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    for part in parse(data).iter_parts():
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    text, html = parts(data)
    assert recipient.unsubscribe_url in text and recipient.unsubscribe_url in html
    assert "Hello Zoë Bartholomew" in text and 'Hello <span dir="auto">Zoë Bartholomew' in html


def test_m4_no_header_injection_from_titles_and_names() -> None:
    evil = Article(
        id=1,
        guid="g1",
        slug="evil",
        url="https://news.example.org/articles/evil",
        title="Breaking\r\nBcc: victim@example.com\r\n\r\n<script>alert(1)</script>",
        summary="x",
        content_html="<p>x</p>",
        published_at=SAMPLE_ISSUED - timedelta(hours=1),
        updated_at=SAMPLE_ISSUED - timedelta(hours=1),
    )
    edition = render_sample(articles=[evil], subscribers=[Subscriber(42, "x@example.com")])
    name = 'Eve\r\nBcc: spy@example.com, "O\'Neil", Zoë'
    data = edition.message_for(sample_recipient(42, name)).data
    message = parse(data)
    assert "Bcc" not in message
    assert message["Subject"].startswith("Example News Daily: Breaking Bcc: victim")
    assert "\n" not in message["Subject"]
    to = message["To"]
    assert len(to.addresses) == 1 and to.addresses[0].addr_spec == "reader42@example.com"
    assert to.addresses[0].display_name == 'Eve Bcc: spy@example.com, "O\'Neil", Zoë'
    assert b"Zo\xc3\xab" not in data.split(b"\r\n\r\n", 1)[0]  # RFC 2047, not raw bytes


def test_m4_subject_is_rfc2047_encoded() -> None:
    article = dataclasses.replace(sample_articles(1)[0], title="Über die Brücke 🚲 שלום")
    data = render_sample(articles=[article]).message_for(sample_recipient()).data
    raw_subject = unfolded(data, "Subject")[0]
    assert raw_subject.isascii() and "=?utf-8?" in raw_subject
    assert parse(data)["Subject"] == "Example News Daily: Über die Brücke 🚲 שלום"


def test_m5_one_recipient_per_message_with_its_own_values() -> None:
    readers = [Subscriber(1, "a@example.com"), Subscriber(2, "b@example.com")]
    edition = render_sample(subscribers=readers)
    one = parse(edition.message_for(sample_recipient(1, "A")).data)
    two = parse(edition.message_for(sample_recipient(2, "B")).data)
    assert len(one["To"].addresses) == 1 and "Cc" not in one and "Bcc" not in one
    assert one["To"].addresses[0].addr_spec != two["To"].addresses[0].addr_spec
    assert one["Message-ID"] != two["Message-ID"]
    assert one["List-Unsubscribe"] != two["List-Unsubscribe"]


# --- Bulk-sender headers --------------------------------------------------------------------


def test_b1_one_click_unsubscribe_headers_byte_for_byte() -> None:
    data = sample_message()
    recipient = sample_recipient()
    token = "sample-token-42"
    assert unfolded(data, "List-Unsubscribe") == [
        f"<https://news.example.org/unsubscribe/{token}>, "
        f"<mailto:unsubscribe@news.example.org?subject={token}>"
    ]
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in data
    assert recipient.unsubscribe_url.startswith("https://")


def test_b1_visible_unsubscribe_link_in_both_parts() -> None:
    text, html = parts(sample_message())
    url = sample_recipient().unsubscribe_url
    assert f"Unsubscribe: {url}" in text
    assert re.search(rf'<a href="{re.escape(url)}"[^>]*>Unsubscribe</a>', html)


def test_b3_list_id_precedence_auto_submitted() -> None:
    message = parse(sample_message())
    assert message["List-Id"] == "Example News Daily Digest <daily.news.example.org>"
    assert message["Precedence"] == "bulk"
    assert message["Auto-Submitted"] == "auto-generated"


def test_b4_feedback_id_is_stable_and_has_no_per_recipient_values() -> None:
    readers = [Subscriber(1, "a@example.com"), Subscriber(2, "b@example.com")]
    edition = render_sample(subscribers=readers)
    ids = {parse(edition.message_for(sample_recipient(i, "X")).data)["Feedback-ID"] for i in (1, 2)}
    assert ids == {"digest:daily-2026-11-27:daily:examplenews"}
    sender_id = next(iter(ids)).rsplit(":", 1)[1]
    assert 5 <= len(sender_id) <= 15


def test_b5_dkim_signature_verifies_and_signs_list_unsubscribe_post(tmp_path: Path) -> None:
    key, record = make_dkim_key(tmp_path)
    signer = load_signer(key, "mail", "", "digest@news.example.org")
    edition = render_sample(signer=signer)
    data = edition.message_for(sample_recipient()).data
    assert data.startswith(b"DKIM-Signature:")

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.news.example.org."
        return record.encode("ascii")

    assert dkim.verify(data, dnsfunc=dns)
    signature = parse(data)["DKIM-Signature"]
    signed = re.search(r"h=([^;]+)", signature.replace(" ", "")).group(1).lower().split(":")
    assert "list-unsubscribe-post" in signed and "feedback-id" in signed
    assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe"} <= set(signed)
    assert "d=news.example.org" in signature.replace(" ", "")
    tampered = data.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_b5_dkim_domain_must_align_with_from(tmp_path: Path) -> None:
    key, _ = make_dkim_key(tmp_path)
    with pytest.raises(ConfigError, match="does not align"):
        load_signer(key, "mail", "other.example.net", "digest@news.example.org")
    assert load_signer(key, "mail", "example.org", "digest@news.example.org").domain == (
        "example.org"
    )
    (tmp_path / "bad.pem").write_text("not a key", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a PEM RSA private key"):
        load_signer(tmp_path / "bad.pem", "mail", "", "digest@news.example.org")
    assert "List-Unsubscribe-Post" in SIGNED_HEADERS and "Feedback-ID" in SIGNED_HEADERS


# --- HTML ------------------------------------------------------------------------------------


def sample_html() -> str:
    return parts(sample_message())[1]


def test_e1_table_layout_600_wide_inlined_with_bgcolor_and_complete_images() -> None:
    html = sample_html()
    assert 'role="presentation"' in html
    assert re.search(r'<table[^>]*class="container"[^>]*width="600"', html)
    container = re.search(r'<table[^>]*class="container"[^>]*>', html).group(0)
    assert "max-width:600px" in container
    assert 'bgcolor="#ffffff"' in container and "background-color" in container
    images = re.findall(r"<img\b[^>]*>", html)
    assert images
    for img in images:
        for attribute in ("alt", "width", "height"):
            assert re.search(rf'\s{attribute}="[^"]*"', img), (attribute, img)
        assert re.search(r'src="https?://', img), img


def test_e2_no_css_that_outlook_or_gmail_drop() -> None:
    html = sample_html()
    for banned in (
        "flex",
        "border-radius",
        "background-image",
        "margin:auto",
        "margin: auto",
        "var(--",
        "prefers-color-scheme",
        "<svg",
    ):
        assert banned not in html, banned
    body = html.split("<body", 1)[1]
    assert "<style" not in body
    for tag, style in re.findall(r'<(\w+)\b[^>]*style="([^"]*)"', html.replace("'", '"')):
        if tag != "td":
            assert "padding" not in style, (tag, style)


def test_e3_preheader_is_the_first_text_and_visible() -> None:
    html = sample_html()
    body = html.split("<body", 1)[1].split(">", 1)[1]
    first_text = re.sub(r"<[^>]+>", "\n", body).split("\n")
    first = next(t.strip() for t in first_text if t.strip() and not t.strip().startswith(" "))
    assert first.startswith("8 stories: Mill Lane footbridge")
    assert "transparent" not in html and "display:none" not in html.replace(" ", "")


def test_e4_decoded_html_under_90kb_at_the_maximum_article_count() -> None:
    options = sample_options()
    longest = [
        dataclasses.replace(
            a,
            title=a.title + " and a headline long enough to fill two lines on a phone",
            summary=(a.summary or "A summary. ") * 3,
            image_url=f"https://news.example.org/media/{a.slug}-with-a-long-file-name.jpg",
            image_alt="A photograph described in enough words to be useful",
            categories=(Category(f"c{a.id % 7}", f"Category number {a.id % 7}"),),
        )
        for a in sample_articles(options.plan.max_articles + 10)
    ]
    edition = render_sample(articles=longest, options=options)
    data = edition.message_for(sample_recipient()).data
    _, html = parts(data)
    assert html.count('class="title') == options.plan.max_articles
    assert len(html.encode("utf-8")) <= 90 * 1024, len(html.encode("utf-8"))
    assert "10 more stories in the archive" in html


def test_e5_color_scheme_meta() -> None:
    assert '<meta name="color-scheme" content="light dark">' in sample_html()


def test_e6_view_in_browser_link_to_the_archive_copy() -> None:
    text, html = parts(sample_message())
    archive = "https://news.example.org/archive/daily/2026-11-27"
    assert f'<a href="{archive}"' in html and "View in browser" in html
    assert f"View in your browser: {archive}" in text


def test_premailer_keeps_important_in_media_queries() -> None:
    html = sample_html()
    head = html.split("<body", 1)[0]
    media = head[head.index("@media") :]
    assert "width: 100% !important" in media
    assert 'class="container"' in html  # classes stay for the media query to match


def test_footer_has_postal_address_and_preferences_link() -> None:
    text, html = parts(sample_message())
    address = "Example News, 1 Market Street, Exampleton EX1 2AB, United Kingdom"
    assert address in text and address in html
    assert sample_recipient().preferences_url in html
    assert f"Change your preferences: {sample_recipient().preferences_url}" in text


def test_date_header_is_taken_when_the_message_is_made() -> None:
    later = SAMPLE_ISSUED + timedelta(hours=3)
    edition = render_sample()
    edition.clock = lambda: later
    message = parse(edition.message_for(sample_recipient()).data)
    assert parsedate_to_datetime(message["Date"]) == later.astimezone(UTC)
    assert isinstance(later, datetime)


def test_e1_logo_has_alt_size_and_absolute_url() -> None:
    options = dataclasses.replace(
        sample_options(), logo_url="https://news.example.org/logo.png", logo_width=180
    )
    edition = render_sample(options=options)
    _, html = parts(edition.message_for(sample_recipient()).data)
    logo = re.search(r'<img\b[^>]*src="https://news.example.org/logo.png"[^>]*>', html)
    assert logo is not None
    for attribute in ('alt="Example News"', 'width="180"', 'height="40"'):
        assert attribute in logo.group(0)
    relative = dataclasses.replace(options, logo_url="/logo.png")
    _, html = parts(render_sample(options=relative).message_for(sample_recipient()).data)
    assert "/logo.png" not in html and "Example News</a>" in html
