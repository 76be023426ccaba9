"""Rendering: escaping of hostile content, template errors, golden files, placeholders."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from digest_sample import SAMPLE_ISSUED, sample_articles, sample_recipient
from digest_support import parse, parts, render_sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.digest import EmailRenderer
from publisher.digest.personalise import format_to
from publisher.exceptions import RenderError
from publisher.resources import EMAIL_TEMPLATES_DIR
from publisher.types import Article, Category, Subscriber

GOLDEN = Path(__file__).parent / "data" / "digest"
UPDATE = os.environ.get("PUBLISHER_UPDATE_GOLDEN") == "1"


def hostile(i: int, title: str, **changes: object) -> Article:
    base = Article(
        id=i,
        guid=f"g{i}",
        slug=f"s{i}",
        url=f"https://news.example.org/articles/s{i}?a=1&b=2",
        title=title,
        summary="",
        content_html="<p>text</p>",
        published_at=SAMPLE_ISSUED - timedelta(minutes=i),
        updated_at=SAMPLE_ISSUED - timedelta(minutes=i),
        categories=(Category("world", "World <& Co>"),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


BAD = [
    hostile(1, "<script>alert('x')</script> & <b>bold</b>", summary="<img src=x onerror=alert(1)>"),
    hostile(2, "{{ unsubscribe_url }} {% raw %} PH0123456789abUNSUBSCRIBEURLX"),
    hostile(3, "Supercalifragilisticexpialidocious" * 8),
    hostile(4, "مرحبا بالعالم: ‏عنوان‏ עברית", summary="نص عربي طويل"),
    hostile(5, "Emoji 🎉🚀 and ZWJ 👩‍👩‍👧", image_url="javascript:alert(1)"),
    hostile(6, "No image, no summary", image_url=None, summary=""),
    hostile(7, "Line\r\nbreak\ttab", categories=()),
]


def test_hostile_titles_are_escaped_and_never_executed() -> None:
    edition = render_sample(articles=BAD)
    data = edition.message_for(sample_recipient()).data
    text, html = parts(data)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html
    assert "World &lt;&amp; Co&gt;" in html
    assert "?a=1&amp;b=2" in html and "?a=1&b=2" in text
    # a title that looks like a template or like our placeholder stays literal text
    assert "{{ unsubscribe_url }}" in html and "PH0123456789abUNSUBSCRIBEURLX" in html
    assert "Supercalifragilisticexpialidocious" * 5 in text  # titles stop at 200 characters
    assert "مرحبا بالعالم" in html and 'dir="auto"' in html
    assert "👩‍👩‍👧" in text and "👩‍👩‍👧" in html
    assert "Line break tab" in text
    assert html.count("<img") == 0  # the only image URL was not http(s)
    assert "More stories" in html  # the article without a category


def test_placeholder_lookalike_in_content_is_not_substituted() -> None:
    edition = render_sample(articles=BAD, nonce=None)  # random nonce, as in production
    text, _ = parts(edition.message_for(sample_recipient()).data)
    assert "{{ unsubscribe_url }}" in text
    assert text.count(sample_recipient().unsubscribe_url) == 1


def test_subscriber_choice_matching_nothing_gets_no_message() -> None:
    readers = [Subscriber(1, "a@example.com"), Subscriber(2, "b@example.com", categories=("x",))]
    edition = render_sample(subscribers=readers)
    assert edition.variant_of(1) is not None
    assert edition.variant_of(2) is None
    with pytest.raises(Exception, match="subscriber"):
        edition.message_for(sample_recipient(2))


def broken_templates(tmp_path: Path, name: str, line: int, text: str) -> Path:
    folder = tmp_path / "email"
    shutil.copytree(EMAIL_TEMPLATES_DIR, folder)
    lines = (folder / name).read_text(encoding="utf-8").splitlines()
    lines.insert(line - 1, text)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_render_error_names_template_and_line_for_a_runtime_error(tmp_path: Path) -> None:
    folder = broken_templates(tmp_path, "digest.html.j2", 20, "{{ site.missing.attribute }}")
    with pytest.raises(RenderError) as caught:
        render_sample(templates=folder)
    assert caught.value.template == "digest.html.j2"
    assert caught.value.line == 20
    assert str(caught.value).startswith("digest.html.j2:20: ")


def test_render_error_names_template_and_line_for_a_syntax_error(tmp_path: Path) -> None:
    folder = broken_templates(tmp_path, "digest.txt.j2", 4, "{% for x in %}")
    with pytest.raises(RenderError) as caught:
        render_sample(templates=folder)
    assert (caught.value.template, caught.value.line) == ("digest.txt.j2", 4)


def test_missing_template_folder_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"digest\.html\.j2"):
        EmailRenderer(tmp_path / "nowhere").render_html({})


def test_per_recipient_work_needs_no_templates(tmp_path: Path) -> None:
    """After rendering, making messages is byte substitution: the templates may be gone."""
    folder = tmp_path / "email"
    shutil.copytree(EMAIL_TEMPLATES_DIR, folder)
    edition = render_sample(templates=folder)
    shutil.rmtree(folder)
    messages = [edition.message_for(sample_recipient(42, f"Reader {i}")).data for i in range(3)]
    assert len(set(messages)) == 3
    assert all(parse(m)["Subject"] for m in messages)


def test_golden_sample_edition() -> None:
    """The fixed sample edition after inlining (HTML) and its text part, byte for byte."""
    edition = render_sample()
    text, html = parts(edition.message_for(sample_recipient()).data)
    for name, content in (("sample.html", html), ("sample.txt", text)):
        path = GOLDEN / name
        normal = content.replace("\r\n", "\n")
        if UPDATE:
            path.write_text(normal, encoding="utf-8")
        expected = path.read_text(encoding="utf-8")
        assert normal == expected, f"{name} differs; PUBLISHER_UPDATE_GOLDEN=1 rewrites it"


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=90,
)
tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_.", max_size=220)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, token=tokens)
def test_placeholders_survive_quoted_printable_for_any_value(name: str, token: str) -> None:
    edition = _SHARED_EDITION
    recipient = dataclasses.replace(
        sample_recipient(42, name),
        unsubscribe_url=f"https://news.example.org/unsubscribe/{token}",
        preferences_url=f"https://news.example.org/preferences/{token}",
    )
    data = edition.message_for(recipient).data
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    variant = edition.variant_for(42)
    text, html = parts(data)
    assert html.replace("\r\n", "\n") == variant.personal_html(recipient).replace("\r\n", "\n")
    assert text.replace("\r\n", "\n") == variant.personal_text(recipient).replace("\r\n", "\n")
    to = parse(data)["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == recipient.email
    encoded_words = re.findall(r"=\?utf-8\?b\?[^?]*\?=", format_to(name, recipient.email))
    assert all(len(word) <= 75 for word in encoded_words)


_SHARED_EDITION = render_sample(articles=sample_articles(3))


@given(name=st.text(alphabet="abcXYZ019 .,\"'!#=-_()<>@:;\\", max_size=40))
def test_m4_fast_display_name_path_matches_address(name: str) -> None:
    """The To fast path gives what ``email.headerregistry.Address`` gives (M4)."""
    from email.headerregistry import Address

    from publisher.digest.personalise import clean_name

    cleaned = clean_name(name)
    expected = str(Address(display_name=cleaned, addr_spec="a@example.org")) if cleaned else ""
    assert format_to(name, "a@example.org") == (expected or "a@example.org")


def test_article_links_must_be_absolute_http_urls() -> None:
    article = dataclasses.replace(sample_articles(1)[0], url="javascript:alert(1)")
    text, html = parts(render_sample(articles=[article]).message_for(sample_recipient()).data)
    assert "javascript:" not in html and "javascript:" not in text
    assert 'href="https://news.example.org/archive/daily/2026-11-27"' in html


def test_internationalised_domain_goes_out_in_ascii() -> None:
    recipient = dataclasses.replace(sample_recipient(), email="ann@bücher.example")
    data = render_sample().message_for(recipient).data
    assert parse(data)["To"].addresses[0].domain == "xn--bcher-kva.example"


def test_an_empty_edition_says_so() -> None:
    edition = render_sample(articles=[])
    assert edition.variants == {} and edition.variant_of(42) is None
    from digest_sample import SAMPLE_KEY, sample_options

    from publisher.digest import full_variant, render_variant
    from publisher.types import Frequency

    options = sample_options()
    variant = render_variant(
        full_variant((), options.plan),
        SAMPLE_KEY,
        Frequency.DAILY,
        SAMPLE_ISSUED,
        options,
        EmailRenderer(EMAIL_TEMPLATES_DIR),
    )
    assert "Nothing new was published since the last daily digest." in variant.text
    assert variant.subject == "Example News Daily: nothing new"


def test_e1_long_runs_get_break_opportunities_and_stay_escaped() -> None:
    """30+ characters without a space get a zero-width space every 20 (the browser test
    shows why); markup inside such a run is still escaped, short words are untouched."""
    from publisher.digest.render import breakable

    out = str(breakable("short words " + "<b>&" * 10))
    assert out.startswith("short words &lt;b&gt;&amp;")
    assert "<b>" not in out and out.count("\u200b") == 1
    assert str(breakable("a" * 29)) == "a" * 29


def test_m4_encoded_word_lookalikes_show_as_written() -> None:
    """A title or name holding ``=?utf-8?b?...?=`` used to go out as it was, and every
    reader decoded it: the Subject showed "Bcc: x@y.z", the To name "Hacker" (M4)."""
    trap = "=?utf-8?b?QmNjOiB4QHkueg==?="
    article = dataclasses.replace(sample_articles(1)[0], title=f"Evil {trap} title")
    recipient = dataclasses.replace(sample_recipient(), name="=?utf-8?b?SGFja2Vy?=")
    data = render_sample(articles=[article]).message_for(recipient).data
    message = parse(data)
    assert str(message["Subject"]).endswith(f"Evil {trap} title")
    assert message["To"].addresses[0].display_name == "=?utf-8?b?SGFja2Vy?="
    assert b"Bcc" not in data.partition(b"\r\n\r\n")[0]
