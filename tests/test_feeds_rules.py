"""One test (at least) per rule of the feed standard: R1-R11, A1-A5, J1-J3, W1-W3, P1, H1-H3,
and the per-category rules. Feeds are built by the real Publisher from a real store and read
back with feedparser (the client) and lxml (the raw XML)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

from feeds_support import (
    NOW,
    NS,
    SITE,
    SPORT,
    Clock,
    any_publisher,
    article,
    clock,
    json_feed,
    parsed,
    publisher,
    xml,
)

from publisher.core import Publisher, make_publisher
from publisher.types import ArticleInput

__all__ = ["any_publisher", "clock", "publisher"]  # fixtures used below

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _fill(pub: Publisher, count: int = 3, **fields: object) -> None:
    for n in range(1, count + 1):
        pub.store_article(article(n, **fields))  # type: ignore[arg-type]


# --- RSS -----------------------------------------------------------------------------------


def test_r1_channel_has_title_link_description_and_link_is_the_site(publisher: Publisher) -> None:
    _fill(publisher)
    channel = xml(publisher, "rss.xml").find("channel")
    assert channel.findtext("title") == "Example News"
    assert channel.findtext("description") == "News from Example Town."
    assert channel.findtext("link") == f"{SITE}/"
    cat = xml(publisher, "category/local/rss.xml").find("channel")
    assert cat.findtext("link") == f"{SITE}/categories/local"
    assert not cat.findtext("link").endswith(".xml")


def test_r2_rss_self_link_is_the_served_url(publisher: Publisher) -> None:
    _fill(publisher)
    for rel in ("rss.xml", "category/local/rss.xml"):
        links = xml(publisher, rel).findall("channel/atom:link[@rel='self']", NS)
        assert len(links) == 1
        assert links[0].get("href") == f"{SITE}/feeds/{rel}"
        assert links[0].get("type") == "application/rss+xml"


def test_r3_guid_is_permanent_unique_and_flags_permalinks(publisher: Publisher) -> None:
    publisher.store_article(article(1))
    publisher.store_article(article(2, guid=None, url=f"{SITE}/2026/story-2"))
    url_guid = f"{SITE}/articles/story-3"
    publisher.store_article(article(3, guid=url_guid, url=url_guid))
    before = {i.findtext("link"): i.find("guid") for i in xml(publisher, "rss.xml").iter("item")}
    guids = [g.text for g in before.values()]
    assert len(set(guids)) == len(guids) == 3
    assert before[f"{SITE}/articles/story-1"].get("isPermaLink") == "false"
    assert before[url_guid].get("isPermaLink") == "true"
    # A slug edit, a scheme change and a tracking query on the URL keep the guid.
    publisher.store_article(
        article(1, slug="story-1-renamed", url="http://news.example.org/s1?utm_source=x")
    )
    after = [i.findtext("guid") for i in xml(publisher, "rss.xml").iter("item")]
    assert sorted(after) == sorted(guids)


def test_r4_dates_are_rfc822_and_lastbuilddate_is_newest_change(
    publisher: Publisher, clock: Clock
) -> None:
    _fill(publisher)
    channel = xml(publisher, "rss.xml").find("channel")
    pattern = re.compile(
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
    )
    for item in channel.iter("item"):
        text = item.findtext("pubDate")
        assert pattern.match(text), text
        moment = parsedate_to_datetime(text)
        assert moment.strftime("%a") == text[:3]  # the weekday is right
    assert channel.findtext("lastBuildDate") == "Fri, 27 Nov 2026 11:00:00 +0000"
    clock.advance(days=3)
    publisher.feeds.build()  # rendering later changes nothing
    assert xml(publisher, "rss.xml").find("channel").findtext("lastBuildDate") == (
        "Fri, 27 Nov 2026 11:00:00 +0000"
    )


def test_r5_summary_in_description_full_html_in_content_encoded(publisher: Publisher) -> None:
    publisher.store_article(article(1))
    publisher.store_article(article(2, summary=""))
    raw = (publisher.feeds.out_dir / "rss.xml").read_text(encoding="utf-8")
    assert 'xmlns:content="http://purl.org/rss/1.0/modules/content/"' in raw
    items = {i.findtext("title"): i for i in xml(publisher, "rss.xml").iter("item")}
    one = items["Story number 1"]
    assert one.findtext("description") == "Summary of story 1."
    assert "<a href=" in one.findtext("content:encoded", namespaces=NS)
    # A missing summary is derived from the text, never the HTML.
    assert items["Story number 2"].findtext("description").startswith("Body of story 2")
    assert "<" not in items["Story number 2"].findtext("description")


def test_r6_one_enclosure_and_media_content_image_also_in_content(publisher: Publisher) -> None:
    publisher.store_article(article(1, image_url="/img/bridge.jpg", image_alt="The bridge"))
    item = next(xml(publisher, "rss.xml").iter("item"))
    enclosures = item.findall("enclosure")
    assert len(enclosures) == 1
    assert set(enclosures[0].attrib) == {"url", "length", "type"}
    assert enclosures[0].get("type") == "image/jpeg"
    media = item.findall("media:content", NS)
    assert len(media) == 1 and media[0].get("medium") == "image"
    assert media[0].get("url") == f"{SITE}/img/bridge.jpg"
    assert item.find("media:group", NS) is None
    assert f'<img src="{SITE}/img/bridge.jpg"' in item.findtext("content:encoded", namespaces=NS)


def test_r7_every_url_is_absolute(publisher: Publisher) -> None:
    body = '<p><a href="../x">a</a> <img src="pic.png" alt=""> <a href="//cdn.example/y">b</a></p>'
    publisher.store_article(article(1, content_html=body, image_url="lead.jpg"))
    item = next(xml(publisher, "rss.xml").iter("item"))
    urls = [item.findtext("link")]
    urls += re.findall(r'(?:src|href)="([^"]+)"', item.findtext("content:encoded", namespaces=NS))
    urls += [e.get("url") for e in item.iter("enclosure")]
    assert len(urls) >= 5
    assert all(u.startswith(("https://", "http://")) for u in urls), urls
    entry = parsed(publisher, "atom.xml").entries[0]
    assert all(link.href.startswith("https://") for link in entry.links)


def test_r8_content_is_sanitised(publisher: Publisher) -> None:
    body = (
        '<p onclick="steal()">Hi<script>alert(1)</script>'
        '<iframe src="https://evil.example/"></iframe>'
        '<span style="display:none">hidden</span><a href="javascript:alert(1)">x</a></p>'
    )
    publisher.store_article(article(1, content_html=body))
    for rel, text in (
        (
            "rss.xml",
            next(xml(publisher, "rss.xml").iter("item")).findtext("content:encoded", namespaces=NS),
        ),
        ("feed.json", json_feed(publisher)["items"][0]["content_html"]),
    ):
        lowered = text.lower()
        for bad in ("<script", "<iframe", "onclick", "style=", "javascript:"):
            assert bad not in lowered, (rel, bad, text)
        assert "Hi" in text


def test_r9_author_is_an_email_and_names_go_in_dc_creator(publisher: Publisher) -> None:
    publisher.store_article(article(1, authors=("Ann Reporter", "Bob Desk <bob@example.org>")))
    item = next(xml(publisher, "rss.xml").iter("item"))
    assert [a.text for a in item.findall("author")] == ["bob@example.org (Bob Desk)"]
    assert [c.text for c in item.findall("dc:creator", NS)] == ["Ann Reporter"]


def test_r10_items_newest_first_and_bounded(publisher: Publisher) -> None:
    for n in (7, 1, 4, 2, 6, 3, 5):  # stored out of order
        publisher.store_article(article(n))
    titles = [i.findtext("title") for i in xml(publisher, "rss.xml").iter("item")]
    assert titles == [f"Story number {n}" for n in (1, 2, 3, 4, 5)]  # items = 5 in the fixture
    dates = [e.published_parsed for e in parsed(publisher, "atom.xml").entries]
    assert dates == sorted(dates, reverse=True)
    assert len(json_feed(publisher)["items"]) == 5


# R11, J3, W1, H1, H2 are about HTTP: see test_feeds_http.py.

# --- Atom --------------------------------------------------------------------------------------


def test_a1_feed_has_one_id_title_updated_author_and_links(publisher: Publisher) -> None:
    _fill(publisher)
    root = xml(publisher, "atom.xml")
    atom = "{http://www.w3.org/2005/Atom}"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(atom + tag)) == 1, tag
    assert root.find(f"{atom}author/{atom}name").text == "Example News"
    rels = [link.get("rel") for link in root.findall(atom + "link")]
    assert rels.count("self") == 1 and rels.count("alternate") == 1
    feed = parsed(publisher, "atom.xml").feed
    assert feed.id and feed.title == "Example News"


def test_a2_entries_have_permanent_id_title_updated_and_content(publisher: Publisher) -> None:
    _fill(publisher)
    atom = "{http://www.w3.org/2005/Atom}"
    for entry in xml(publisher, "atom.xml").iter(atom + "entry"):
        assert entry.findtext(atom + "id").startswith("urn:uuid:")
        assert entry.findtext(atom + "title")
        assert entry.findtext(atom + "updated")
        assert entry.find(atom + "content") is not None
    ids = [e.id for e in parsed(publisher, "atom.xml").entries]
    assert ids == [e.id for e in parsed(publisher, "category/local/atom.xml").entries]


def test_a3_content_and_summary_types_are_text_html_or_xhtml(publisher: Publisher) -> None:
    _fill(publisher)
    atom = "{http://www.w3.org/2005/Atom}"
    root = xml(publisher, "atom.xml")
    types = [e.get("type") for e in root.iter(atom + "content", atom + "summary")]
    assert types and set(types) <= {"text", "html", "xhtml"}


def test_a4_one_alternate_per_entry_and_enclosures_have_length_and_type(
    publisher: Publisher,
) -> None:
    publisher.store_article(article(1, image_url="/img/a.png"))
    atom = "{http://www.w3.org/2005/Atom}"
    entry = next(xml(publisher, "atom.xml").iter(atom + "entry"))
    links = entry.findall(atom + "link")
    alternates = [x for x in links if x.get("rel", "alternate") == "alternate"]
    enclosures = [x for x in links if x.get("rel") == "enclosure"]
    assert len(alternates) == 1
    assert len(enclosures) == 1
    assert enclosures[0].get("type") == "image/png" and enclosures[0].get("length") is not None


def test_a5_atom_dates_are_rfc3339_with_zone(publisher: Publisher) -> None:
    _fill(publisher)
    atom = "{http://www.w3.org/2005/Atom}"
    root = xml(publisher, "atom.xml")
    dates = [e.text for e in root.iter(atom + "updated", atom + "published")]
    assert len(dates) == 1 + 3 * 2
    assert all(RFC3339.match(d) for d in dates), dates


# --- JSON Feed -----------------------------------------------------------------------------------


def test_j1_json_feed_version_title_items_and_urls(publisher: Publisher) -> None:
    _fill(publisher)
    feed = json_feed(publisher)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Example News"
    assert isinstance(feed["items"], list) and len(feed["items"]) == 3
    assert feed["home_page_url"] == f"{SITE}/"
    assert feed["feed_url"] == f"{SITE}/feeds/feed.json"
    assert json_feed(publisher, "category/local/feed.json")["feed_url"] == (
        f"{SITE}/feeds/category/local/feed.json"
    )


def test_j2_json_items_have_string_id_content_author_array_and_rfc3339(
    publisher: Publisher,
) -> None:
    _fill(publisher)
    for item in json_feed(publisher)["items"]:
        assert isinstance(item["id"], str) and item["id"].startswith("urn:uuid:")
        assert item["content_html"]
        assert isinstance(item["authors"], list) and item["authors"][0]["name"]
        assert RFC3339.match(item["date_published"]) and RFC3339.match(item["date_modified"])


# --- WebSub (topic shape; HTTP headers and pings in their own modules) -------------------------


def test_w1_atom_body_has_hub_link(tmp_path, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from feeds_support import make_settings

    pub = make_publisher(
        make_settings(tmp_path / "p", hubs=["https://hub.example.net/"], hub_attempts=1),
        clock=clock,
        create=True,
    )
    try:
        # This test reads the documents only; no ping leaves the machine.
        pub._services.websub.hubs = ()
        pub.store_article(article(1))
        atom = "{http://www.w3.org/2005/Atom}"
        hubs = xml(pub, "atom.xml").findall(f"{atom}link[@rel='hub']")
        assert [h.get("href") for h in hubs] == ["https://hub.example.net/"]
        rss_hubs = xml(pub, "rss.xml").findall("channel/atom:link[@rel='hub']", NS)
        assert [h.get("href") for h in rss_hubs] == ["https://hub.example.net/"]
    finally:
        pub.close()


def test_w2_each_feed_is_its_own_topic_with_its_exact_self_url(publisher: Publisher) -> None:
    publisher.store_article(article(1, categories=(SPORT,)))
    selves = set()
    for rel in ("atom.xml", "category/sport/atom.xml"):
        self_links = [x.href for x in parsed(publisher, rel).feed.links if x.rel == "self"]
        assert self_links == [f"{SITE}/feeds/{rel}"]
        selves.update(self_links)
    assert len(selves) == 2


# --- History ---------------------------------------------------------------------------------


def test_p1_window_with_archive_pages_a_reader_can_walk(publisher: Publisher) -> None:
    # 12 articles over three months, window of 5: the rest is in monthly archive pages.
    for n in range(12):
        publisher.store_article(article(n + 1, published_at=NOW - timedelta(days=7 * n)))
    feed = parsed(publisher, "atom.xml")
    assert len(feed.entries) == 5
    seen = {e.id for e in feed.entries}
    raw = (publisher.feeds.out_dir / "atom.xml").read_text(encoding="utf-8")
    assert "fh:complete" not in raw and "complete" not in raw
    link = next(x.href for x in feed.feed.links if x.rel == "prev-archive")
    pages = 0
    while link:
        rel = link.removeprefix(f"{SITE}/feeds/")
        page = parsed(publisher, rel)
        assert "<fh:archive" in (publisher.feeds.out_dir / rel).read_text(encoding="utf-8")
        current = [x.href for x in page.feed.links if x.rel == "current"]
        assert current == [f"{SITE}/feeds/atom.xml"]
        seen |= {e.id for e in page.entries}
        pages += 1
        link = next((x.href for x in page.feed.links if x.rel == "prev-archive"), None)
    assert len(seen) == 12 and pages == 2  # September and October
    # Same for RSS: the archive chain is walkable from rss.xml too.
    rss_prev = xml(publisher, "rss.xml").findall("channel/atom:link[@rel='prev-archive']", NS)
    assert rss_prev[0].get("href").endswith("/rss.xml")


def test_p1_finished_month_pages_do_not_change_when_new_articles_arrive(
    publisher: Publisher, clock: Clock
) -> None:
    for n in range(12):
        publisher.store_article(article(n + 1, published_at=NOW - timedelta(days=7 * n)))
    old = sorted(p for p in (publisher.feeds.out_dir / "archive").glob("*/atom.xml"))
    before = {p: p.read_bytes() for p in old[:-1]}  # every month page but the newest
    clock.advance(hours=2)
    publisher.store_article(article(100, published_at=clock.now - timedelta(minutes=5)))
    assert {p: p.read_bytes() for p in before} == before


# --- HTML --------------------------------------------------------------------------------------


def test_h3_feed_links_for_autodiscovery(publisher: Publisher) -> None:
    publisher.store_article(article(1))
    links = publisher.feeds.links("local")
    assert (
        "application/rss+xml",
        "Example News: Local (RSS)",
        f"{SITE}/feeds/category/local/rss.xml",
    ) in links
    assert ("application/feed+json", "Example News (JSON Feed)", f"{SITE}/feeds/feed.json") in links
    assert [x[0] for x in publisher.feeds.links()] == [
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    ]


# --- per-category feeds ------------------------------------------------------------------------


def test_category_feeds_have_own_self_title_link_and_share_guids(publisher: Publisher) -> None:
    publisher.store_article(article(1, categories=(SPORT,)))
    publisher.store_article(article(2))
    site = parsed(publisher, "rss.xml")
    sport = parsed(publisher, "category/sport/rss.xml")
    assert sport.feed.title == "Example News: Sport"
    assert sport.feed.link == f"{SITE}/categories/sport"
    assert [e.id for e in sport.entries] == [site.entries[0].id]
    assert {e.id for e in parsed(publisher, "category/local/rss.xml").entries} == {
        site.entries[1].id
    }


def test_store_queries_agree_on_sqlite_and_postgresql(any_publisher: Publisher) -> None:
    for n in range(1, 9):
        any_publisher.store_article(article(n, published_at=NOW - timedelta(days=20 * n)))
    any_publisher.store_article(
        ArticleInput(title="Later", content_html="<p>x</p>", published_at=NOW + timedelta(days=1))
    )
    any_publisher.retract_article("story-2")
    feed = parsed(any_publisher, "atom.xml")
    assert [e.title for e in feed.entries] == [f"Story number {n}" for n in (1, 3, 4, 5, 6)]
    archived = sorted((any_publisher.feeds.out_dir / "archive").glob("*/atom.xml"))
    titles = {
        e.title
        for p in archived
        for e in parsed(any_publisher, str(p.relative_to(any_publisher.feeds.out_dir))).entries
    }
    assert titles == {"Story number 7", "Story number 8"}


def test_j2_an_article_without_body_has_content_text_not_an_empty_content_html(
    publisher: Publisher,
) -> None:
    """Review finding: a title-only article (or one whose body was only a script) gave
    ``"content_html": ""``, which is content in name only."""
    publisher.store_article(article(1, content_html="", summary=""))
    publisher.store_article(article(2, content_html=" ", summary="Said in brief."))
    items = {i["id"][-1]: i for i in json_feed(publisher)["items"]}
    assert "content_html" not in items["1"] and items["1"]["content_text"] == "Story number 1"
    assert items["2"]["content_text"] == "Said in brief."
