"""Regressions found by an outside-in review with hostile, real-world inputs.

Each test feeds the product what a user or a real export would, through the CLI or the
ingest functions, and checks what comes out.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from publisher.cli import main
from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, parse_bytes
from publisher.types import ArticleInput

LONDON = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("Europe/London"))


def test_a_local_time_skipped_by_the_clock_change_is_refused_with_its_line(tmp_path: Path) -> None:
    """Europe/London has no 01:30 on 2024-03-31; it used to be stored as 01:30 GMT."""
    options = LONDON
    gap = b'---\ntitle: Spring forward\ndate: "2024-03-31 01:30"\n---\nBody.\n'
    with pytest.raises(IngestError, match=r"^gap\.md:3: .*does not exist in Europe/London"):
        parse_bytes(gap, "gap.md", options)
    fold = b'---\ntitle: Fall back\ndate: "2024-10-27 01:30"\n---\nBody.\n'
    [autumn] = parse_bytes(fold, "fold.md", options)
    assert isinstance(autumn, ArticleInput)
    assert autumn.published_at.astimezone(UTC) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    given = b'---\ntitle: With offset\ndate: "2024-03-31T01:30:00+00:00"\n---\nBody.\n'
    [explicit] = parse_bytes(given, "ok.md", options)
    assert isinstance(explicit, ArticleInput)
    assert explicit.published_at == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)


def test_a_relative_time_line_in_copied_text_is_neither_title_nor_body() -> None:
    """Copy off a news site often has "Updated 3 hours ago" above the headline."""
    copy = (
        "THE RIVERTON LEDGER\nUpdated 3 hours ago\nWednesday, May 22, 2024\n"
        "Title of the copied story\nA standfirst paragraph that explains things.\n\n"
        "Body paragraph one is here and is long enough to be a paragraph.\n\n"
        "5 mins ago\n\nMore body text here that is a paragraph of text.\n"
    )
    [article] = parse_bytes(copy.encode(), "copy.txt", LONDON)
    assert isinstance(article, ArticleInput)
    assert article.title == "Title of the copied story"
    assert article.published_at.date().isoformat() == "2024-05-22"
    assert "ago" not in article.content_html
    assert article.summary == "A standfirst paragraph that explains things."


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("&lt;script&gt;alert(1)&lt;/script&gt; Q&amp;A", "<script>alert(1)</script> Q&A"),
        ("<em>Live:</em> council vote", "<em>Live:</em> council vote"),
        ("Rock &#8217;n&#8217; roll", "Rock \u2019n\u2019 roll"),
        ("AT&T and R&D < 5", "AT&T and R&D < 5"),
    ],
)
def test_front_matter_and_json_titles_are_text_with_entities_decoded(
    title: str, expected: str
) -> None:
    """A CMS export's title holds entities: decoded. Tags are text, kept as written."""
    source = f'---\ntitle: "{title}"\ndate: 2024-05-04\n---\nBody.\n'.encode()
    [from_markdown] = parse_bytes(source, "a.md", LONDON)
    [from_json] = parse_bytes(
        json.dumps({"title": title, "content": "x"}).encode(), "a.json", LONDON
    )
    assert isinstance(from_markdown, ArticleInput) and isinstance(from_json, ArticleInput)
    assert from_markdown.title == expected
    assert from_json.title == expected


def test_a_title_of_only_whitespace_entities_is_no_title() -> None:
    with pytest.raises(IngestError, match=r"^t\.md:2: no title"):
        parse_bytes(b'---\ntitle: "&#32;&nbsp;"\n---\nBody.\n', "t.md", LONDON)


def test_html_page_and_heading_titles_are_not_decoded_twice() -> None:
    page = (
        '<html><head><meta property="og:title" content="Why &amp;lt;b&amp;gt; is bold">'
        "</head><body><article><p>Body.</p></article></body></html>"
    )
    [article] = parse_bytes(page.encode(), "p.html", LONDON)
    assert isinstance(article, ArticleInput)
    assert article.title == "Why &lt;b&gt; is bold"
    [heading] = parse_bytes(b"# Fish &amp;lt; chips\n\nBody.\n", "h.md", LONDON)
    assert isinstance(heading, ArticleInput)
    assert heading.title == "Fish &lt; chips"


STORY_PAGE = """<!doctype html><html><head><title>Bridge opens | Site</title>
<base href="{base}">
<meta property="og:image" content="lead.jpg">
<meta property="article:published_time" content="2024-05-03T09:00:00+01:00">
</head><body><header><nav><a href="/">Home</a></nav></header>
<div id="cookie-banner">We use cookies. Accept all</div>
<div class="story-body"><h1>Bridge opens</h1>
<p>See <a href="rel/link.html">the plans</a>.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-lazy-src="lazy.jpg" alt="lazy">
<img data-src="/abs.jpg" alt="rooted">
</div><div class="sidebar">Most popular: other things</div><footer>(c)</footer></body></html>"""


def test_html_page_links_resolve_against_its_base_href_and_lazy_images_load() -> None:
    """R7: URLs must be absolute *and right*: a saved page's base href was ignored."""
    page = STORY_PAGE.format(base="https://cdn.example.org/news/2024/")
    [article] = parse_bytes(page.encode(), "p.html", LONDON)
    assert isinstance(article, ArticleInput)
    assert 'href="https://cdn.example.org/news/2024/rel/link.html"' in article.content_html
    assert 'src="https://cdn.example.org/news/2024/lazy.jpg"' in article.content_html
    assert 'src="https://cdn.example.org/abs.jpg"' in article.content_html
    assert article.image_url == "https://cdn.example.org/news/2024/lead.jpg"


def test_html_page_body_is_the_story_body_div_not_the_whole_page() -> None:
    """A CMS page without <article>/<main>: the sidebar and cookie banner stayed in the body."""
    page = STORY_PAGE.format(base="javascript:alert(1)//")
    [article] = parse_bytes(page.encode(), "p.html", LONDON)
    assert isinstance(article, ArticleInput)
    assert "cookies" not in article.content_html and "Most popular" not in article.content_html
    assert 'href="https://news.example.org/rel/link.html"' in article.content_html
    assert "javascript" not in article.content_html
    assert article.summary == "See the plans."


def test_html_page_cookie_banner_is_chrome_even_when_the_body_is_the_container() -> None:
    page = (
        '<html><head><title>T</title></head><body><div class="cookie-consent">Accept all'
        "</div><p>Only paragraph.</p></body></html>"
    )
    [article] = parse_bytes(page.encode(), "p.html", LONDON)
    assert isinstance(article, ArticleInput)
    assert "Accept" not in article.content_html and "Only paragraph." in article.content_html


def test_categories_c_plus_plus_c_sharp_and_c_get_their_own_slugs(project: Path) -> None:
    """They all slugified to "c": one category (named "C++"), one feed, for three topics."""
    runner = CliRunner()
    assert runner.invoke(main, ["--root", str(project), "init"]).exit_code == 0
    source = project / "langs.md"
    source.write_text(
        '---\ntitle: Languages\ndate: 2024-05-05\ncategories: ["C++", "c", "C#", "#MeToo"]\n'
        "---\nBody.\n",
        encoding="utf-8",
    )
    added = runner.invoke(main, ["--root", str(project), "articles", "add", str(source)])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["--root", str(project), "articles", "list", "--json"])
    [article] = json.loads(listed.output)
    assert [(c["slug"], c["name"]) for c in article["categories"]] == [
        ("c-plus-plus", "C++"),
        ("c", "c"),
        ("c-sharp", "C#"),
        ("metoo", "#MeToo"),
    ]


def test_pages_show_dates_on_the_newsroom_clock_not_utc(project: Path) -> None:
    """00:30 BST on 6 May was shown as "05 May 2024" (home, category) and "23:30 UTC"."""
    from webkit import TestClient, make_settings

    from publisher.core import make_publisher
    from publisher.types import Category
    from publisher.web import create_app

    publisher = make_publisher(make_settings(project, f"sqlite:///{project / 'p.db'}"), create=True)
    try:
        publisher.store_article(
            ArticleInput(
                title="Late night count",
                content_html="<p>Counted.</p>",
                published_at=datetime(2024, 5, 5, 23, 30, tzinfo=UTC),
                categories=(Category("local", "Local"),),
            )
        )
        with TestClient(create_app(publisher)) as client:
            article = client.get("/articles/late-night-count").text
            # Localised by Babel (see publisher.i18n): the zone's name in the page's language.
            assert "06 May 2024, 00:30 (British Summer Time)" in article
            for path in ("/", "/categories/local"):
                page = client.get(path).text
                assert "06 May 2024" in page and "05 May 2024" not in page, path
    finally:
        publisher.close()


def test_article_page_shows_the_lead_image_once_and_isolates_rtl_text(project: Path) -> None:
    """The lead image was in the feeds (R6) but not on the article page; Arabic titles and
    bodies were laid out left to right (the full stop on the wrong side)."""
    from webkit import TestClient, make_settings

    from publisher.core import make_publisher
    from publisher.web import create_app

    publisher = make_publisher(make_settings(project, f"sqlite:///{project / 'p.db'}"), create=True)
    image = "https://img.example.org/a.jpg?w=1&h=2"
    try:
        for slug, body in (("lead", "<p>نص المقال.</p>"), ("inline", f'<img src="{image}">')):
            publisher.store_article(
                ArticleInput(
                    title="مرحبا بالعالم \u202e",
                    content_html=body.replace("&", "&amp;"),
                    published_at=datetime(2024, 5, 5, 10, tzinfo=UTC),
                    image_url=image,
                    image_alt="A bridge",
                    slug=slug,
                )
            )
        with TestClient(create_app(publisher)) as client:
            page = client.get("/articles/lead").text
            assert page.count('src="https://img.example.org/a.jpg?w=1&amp;h=2"') == 1
            assert 'alt="A bridge"' in page
            assert '<article dir="auto">' in page and '<time dir="ltr"' in page
            inline = client.get("/articles/inline").text
            # Shown once (the head's social-card and JSON-LD tags name it, without src=).
            assert inline.count('src="https://img.example.org/a.jpg') == 1
            assert '<a dir="auto" href="/articles/lead">' in client.get("/").text
    finally:
        publisher.close()


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("https:evil.example", "https://news.example.org/evil.example"),
        ("http:evil.example", None),
        ("https:///path-only", "https://news.example.org/path-only"),
        ("https://ok.example/a", "https://ok.example/a"),
    ],
)
def test_r7_a_scheme_without_host_is_resolved_or_dropped(href: str, expected: str | None) -> None:
    """R7: "https:evil.example" went into feeds as is: not absolute, read differently by
    each client."""
    from publisher.ingest.sanitize import absolute_url, clean_html

    assert absolute_url(href, "https://news.example.org") == expected
    cleaned = clean_html(f'<a href="{href}">x</a>', "https://news.example.org")
    if expected is None:
        assert "href" not in cleaned
    else:
        assert f'href="{expected}"' in cleaned


def test_r7_feed_content_resolves_or_drops_host_less_urls_too() -> None:
    """Content stored before the ingest fix (or by the API) goes through the feeds' own
    cleaner, which had the same gap."""
    from publisher.feeds.content import clean_content

    html = '<a href="https:evil.example">a</a><a href="http:x">b</a><img src="https:pic.jpg">'
    cleaned = clean_content(html, "https://news.example.org/articles/a")
    assert 'href="https://news.example.org/articles/evil.example"' in cleaned
    assert 'src="https://news.example.org/articles/pic.jpg"' in cleaned
    assert "http:x" not in cleaned


@pytest.mark.parametrize("written", ["05/06/2024", "5.6.2024", "05-06-24 10:00"])
def test_an_ambiguous_numeric_date_is_refused_not_read_month_first(written: str) -> None:
    """A London newsroom's 05/06/2024 (5 June) was stored as 6 May."""
    source = f'---\ntitle: T\ndate: "{written}"\n---\nBody.\n'.encode()
    with pytest.raises(IngestError, match=r"^d\.md:3: date .* is ambiguous"):
        parse_bytes(source, "d.md", LONDON)


def test_an_unambiguous_numeric_date_still_parses() -> None:
    for written in ("13/06/2024", "06/13/2024", "05/05/2024"):
        [article] = parse_bytes(
            f"---\ntitle: T\ndate: {written}\n---\nB\n".encode(), "d.md", LONDON
        )
        assert isinstance(article, ArticleInput)
        assert article.published_at.date().isoformat() in ("2024-06-13", "2024-05-05")


def test_a_plural_role_after_a_byline_is_not_an_author() -> None:
    copy = (
        "RIVERTON LEDGER | Politics\nBy Ann Lee and Bob Roe, Political Correspondents\n"
        "22 May 2024\nCouncil votes on the bridge\nThe council voted on Tuesday night.\n\n"
        "By Ann Lee, Politics Desk\n\nMore text in the body of the article follows here.\n"
    )
    [article] = parse_bytes(copy.encode(), "by.txt", LONDON)
    assert isinstance(article, ArticleInput)
    assert article.authors == ("Ann Lee", "Bob Roe")


def test_a_dateline_and_byline_just_outside_the_story_body_are_still_read() -> None:
    page = (
        "<html><head><title>Dam repairs | Site</title></head><body>"
        '<div class="story-header"><h1>Dam repairs</h1><a rel="author" href="/a">Kit Marr</a>'
        '<time datetime="2024-05-03T09:00:00+01:00">3 May</time></div>'
        '<div class="article-body"><p>The dam is being repaired.</p></div></body></html>'
    )
    [article] = parse_bytes(page.encode(), "p.html", LONDON, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert isinstance(article, ArticleInput)
    assert article.published_at == datetime(2024, 5, 3, 8, tzinfo=UTC)
    assert article.authors == ("Kit Marr",)
    assert article.title == "Dam repairs"
    assert article.content_html == "<p>The dam is being repaired.</p>"


def test_the_headline_h1_above_the_story_body_beats_a_bare_site_title() -> None:
    page = (
        "<html><head><title>The Riverton Ledger</title></head><body>"
        '<div class="headline"><h1>Weir gates replaced</h1></div>'
        '<div class="entry-content"><p>New gates.</p></div></body></html>'
    )
    [article] = parse_bytes(page.encode(), "p.html", LONDON)
    assert isinstance(article, ArticleInput)
    assert article.title == "Weir gates replaced"


def test_dates_and_authors_stated_only_in_json_ld_are_read() -> None:
    """A news page with its dates only in schema.org JSON-LD was dated at import time."""
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Ledger"},
            {
                "@type": ["NewsArticle"],
                "headline": "Ferry returns",
                "datePublished": "2024-05-03T09:00:00+01:00",
                "dateModified": "2024-05-04T10:00:00+01:00",
                "author": [{"@type": "Person", "name": "Ann Lee"}, {"name": "Bob Roe"}],
            },
        ],
    }
    page = (
        "<html><head><title>Ferry returns | Ledger</title>"
        '<script type="application/ld+json">{not json</script>'
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        "</head><body><article><h1>Ferry returns</h1><p>It is back.</p></article></body></html>"
    )
    [article] = parse_bytes(page.encode(), "p.html", LONDON, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert isinstance(article, ArticleInput)
    assert article.published_at == datetime(2024, 5, 3, 8, tzinfo=UTC)
    assert article.updated_at == datetime(2024, 5, 4, 9, tzinfo=UTC)
    assert article.authors == ("Ann Lee", "Bob Roe")
    assert "not json" not in article.content_html


def test_list_by_category_name_or_slug_and_unknown_category_is_an_error(project: Path) -> None:
    """`articles list --category "C++"` printed an empty list, as did a misspelt slug."""
    runner = CliRunner()
    assert runner.invoke(main, ["--root", str(project), "init"]).exit_code == 0
    source = project / "a.md"
    source.write_text('---\ntitle: A\ndate: 2024-05-05\ncategories: ["C++", "c"]\n---\nB\n')
    assert (
        runner.invoke(main, ["--root", str(project), "articles", "add", str(source)]).exit_code == 0
    )
    for given in ("C++", "c-plus-plus", "c"):
        listed = runner.invoke(
            main, ["--root", str(project), "articles", "list", "--json", "--category", given]
        )
        assert listed.exit_code == 0, listed.output
        assert [a["title"] for a in json.loads(listed.output)] == ["A"], given
    unknown = runner.invoke(main, ["--root", str(project), "articles", "list", "--category", "cpp"])
    assert unknown.exit_code == 1
    assert "no category matches 'cpp'" in unknown.output


@pytest.mark.parametrize(
    ("name", "source", "line"),
    [
        ("d.md", b"---\ntitle: Draft\ndraft: true\n---\nNot yet.\n", ":3"),
        ("p.md", b"---\ntitle: Draft\npublished: false\n---\nNot yet.\n", ":3"),
        ("w.json", b'{"title": "Draft", "status": "draft", "content": "<p>x</p>"}', ""),
    ],
)
def test_a_draft_in_an_export_is_not_published(name: str, source: bytes, line: str) -> None:
    """Hugo/Jekyll `draft: true` and WordPress `status: draft` went straight into the feeds."""
    with pytest.raises(IngestError, match=rf"^{re.escape(name + line)}: .*draft, not imported"):
        parse_bytes(source, name, LONDON)


def test_published_status_and_draft_false_are_imported() -> None:
    for source in (
        b"---\ntitle: Out\ndraft: false\npublished: true\n---\nLive.\n",
        b"---\ntitle: Out\nstatus: publish\n---\nLive.\n",
    ):
        [article] = parse_bytes(source, "ok.md", LONDON)
        assert isinstance(article, ArticleInput) and article.title == "Out"


def test_html_pages_labelled_latin1_or_in_an_xml_declaration_decode_as_browsers_do() -> None:
    """Curly quotes at 0x93/0x94 in a page labelled iso-8859-1 became dropped control
    characters; an XHTML page's <?xml encoding?> was ignored ("not UTF-8")."""
    latin = b'<html><head><meta charset="iso-8859-1"><title>\x93Caf\xe9\x94\x81</title></head>'
    xhtml = b'<?xml version="1.0" encoding="iso-8859-1"?><html><head><title>Na\xefve</title>'
    for data, title in ((latin, "\u201cCaf\u00e9\u201d"), (xhtml, "Na\u00efve")):
        [article] = parse_bytes(data + b"<body><p>x</p></body></html>", "p.html", LONDON)
        assert isinstance(article, ArticleInput)
        assert article.title == title


def test_r8_a_link_whose_url_was_removed_is_unwrapped_not_left_as_a_dead_link() -> None:
    """`<a href="javascript:...">` came out as `<a rel="noopener">`: styled as a link, going
    nowhere."""
    from publisher.ingest.sanitize import clean_html

    html = '<p><a href="javascript:alert(1)">js <b>x</b></a> <a title="t" href="/ok">ok</a></p>'
    assert clean_html(html, "https://news.example.org") == (
        '<p>js <b>x</b> <a title="t" href="https://news.example.org/ok" rel="noopener">ok</a></p>'
    )


def test_us_zone_names_without_summer_time_letter_follow_the_date() -> None:
    """'3:45 p.m. ET' (as US sites write it) was "an unknown time zone name"."""
    for written, offset in (("May 22, 2024 at 3:45 p.m. ET", -4), ("Jan 22, 2024 3:45 pm ET", -5)):
        source = f'---\ntitle: T\ndate: "{written}"\n---\nB\n'.encode()
        [article] = parse_bytes(source, "d.md", LONDON)
        assert isinstance(article, ArticleInput)
        assert article.published_at.utcoffset() == timedelta(hours=offset)
        assert article.published_at.astimezone(UTC).hour == 15 - offset
