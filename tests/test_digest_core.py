"""The digest wired through the Publisher: editions by cutoff, recipients, preview, test send."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PublisherFactory
from digest_support import make_dkim_key, parse, parts

from publisher.cli import main
from publisher.config import Secret, Settings
from publisher.core import Publisher, make_publisher
from publisher.engagement import LinkTokens
from publisher.exceptions import NotFound
from publisher.store import Store
from publisher.tokens import Purpose, TokenSigner, read_verp_token
from publisher.types import (
    ArticleInput,
    Category,
    ClaimedDelivery,
    Frequency,
    SubscriberStatus,
)

DAY1 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
ACTIVE = SubscriberStatus.ACTIVE


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(DAY1)


@pytest.fixture
def publisher(
    settings: Settings, store: Store, clock: Clock, tmp_path: Path, make_pub: PublisherFactory
) -> Publisher:
    configured = dataclasses.replace(
        settings,
        secret_key=Secret("k" * 48),
        digest=dataclasses.replace(
            settings.digest, from_address="digest@news.example.org", sender_id="examplenews"
        ),
        mail=dataclasses.replace(settings.mail, outbox_dir=tmp_path / "outbox"),
    )
    return make_pub(configured, store=store, clock=clock)


def reconfigured(publisher: Publisher, **changes: object) -> Publisher:
    """The same store and clock under changed settings (settings are frozen, so: rebuilt)."""
    services = publisher._services
    changed = dataclasses.replace(services.settings, **changes)  # type: ignore[arg-type]
    return make_publisher(changed, store=services.store, clock=services.clock)  # shares the store


def add(publisher: Publisher, title: str, at: datetime, *cats: str) -> int:
    item = ArticleInput(
        title=title,
        content_html=f"<p>{title} in full.</p>",
        published_at=at,
        summary=f"About {title}.",
        categories=tuple(Category(c, c.title()) for c in cats),
    )
    return publisher.store_article(item).article.id


def test_editions_follow_cutoffs_not_wall_clock_windows(publisher: Publisher, clock: Clock) -> None:
    stale = add(publisher, "Older than digest.max_age_days", DAY1 - timedelta(days=8))
    first_in = add(publisher, "In the first", DAY1 - timedelta(hours=30))
    first = publisher._services.editions.open("daily")
    assert first.key == "daily/2026-11-27"
    assert first.window_start == DAY1 - timedelta(days=1)  # the first edition reaches back a day
    # Entered the store in the window: in, though dated before it (within 7 days).
    assert first.article_ids == (first_in,)
    assert stale not in first.article_ids

    # Published after the cutoff, same day: not in today's edition, in tomorrow's.
    late = add(publisher, "After the cutoff", DAY1 + timedelta(hours=1))
    clock.now = DAY1 + timedelta(hours=3)
    # Imported after the cutoff but dated before it: not lost, it goes in the next edition.
    tardy = add(publisher, "Dated before the cutoff, imported after", DAY1 - timedelta(hours=1))
    assert publisher._services.editions.open("daily") == first  # same period: same edition

    # Three days of downtime: the next edition starts at the last cutoff, nothing skipped.
    gap = [add(publisher, f"Day {n}", DAY1 + timedelta(days=n)) for n in (1, 2, 3)]
    clock.now = DAY1 + timedelta(days=4)
    second = publisher._services.editions.open("daily")
    assert second.key == "daily/2026-12-01"
    assert second.window_start == first.window_end
    assert set(second.article_ids) == {late, tardy, *gap}
    assert second.article_ids[0] == gap[-1]  # newest first
    assert first_in not in second.article_ids and stale not in second.article_ids


def test_late_articles_are_capped_by_max_age_days(publisher: Publisher, clock: Clock) -> None:
    """A back-dated import is mailed while its dateline is recent enough, never after."""
    publisher._services.editions.open("daily")  # the cutoff at DAY1
    clock.now = DAY1 + timedelta(hours=1)
    recent = add(publisher, "Five days old, imported today", DAY1 - timedelta(days=5))
    old = add(publisher, "Eight days old, imported today", DAY1 - timedelta(days=8))
    clock.now = DAY1 + timedelta(days=1)
    edition = publisher._services.editions.open("daily")
    assert recent in edition.article_ids and old not in edition.article_ids


def test_empty_edition_is_skipped_unless_configured(publisher: Publisher) -> None:
    publisher._services.store.subscribers.add("a@example.org", status=ACTIVE)
    edition = publisher._services.editions.open(Frequency.DAILY)
    assert edition.article_ids == () and edition.status == "skipped"
    assert publisher._services.editions.recipients(edition) == []
    digest = dataclasses.replace(publisher.settings.digest, send_empty=True)
    assert reconfigured(publisher, digest=digest)._services.editions.plan("weekly").status == "open"


def test_recipients_variants_and_messages(publisher: Publisher) -> None:
    add(publisher, "Sport story", DAY1 - timedelta(hours=1), "sport")
    add(publisher, "Local story", DAY1 - timedelta(hours=2), "local")
    subs = publisher._services.store.subscribers
    everyone = subs.add("all@example.org", name='Ann, "A" Reader', status=ACTIVE)
    sport = subs.add("sport@example.org", status=ACTIVE, categories=["sport"])
    nothing = subs.add("none@example.org", status=ACTIVE, categories=["opera"])
    subs.add("weekly@example.org", status=ACTIVE, frequency=Frequency.WEEKLY)
    subs.add("pending@example.org")
    edition = publisher._services.editions.open("daily")
    recipients = publisher._services.editions.recipients(edition)
    assert [s.id for s, _ in recipients] == [everyone.id, sport.id]
    assert recipients[0][1] != recipients[1][1]
    rendered = publisher._services.editions.render(edition, [everyone, sport, nothing])
    assert rendered.variant_of(nothing.id) is None
    # The ledger names a variant by the reader's language (here the site's) and article set.
    assert f"en/{rendered.variant_of(sport.id)}" == recipients[1][1]

    recipient = publisher._services.links.recipient(edition.key, sport)
    signer = TokenSigner("k" * 48)
    token = recipient.unsubscribe_url.rsplit("/", 1)[1]
    assert recipient.unsubscribe_url == f"https://news.example.org/unsubscribe/{token}"
    assert signer.read(Purpose.UNSUBSCRIBE, token)[0] == sport.id
    assert recipient.unsubscribe_mailto == f"mailto:unsubscribe@news.example.org?subject={token}"
    prefs = recipient.preferences_url.rsplit("/", 1)[1]
    assert signer.read(Purpose.PREFERENCES, prefs)[0] == sport.id
    assert (
        recipient.message_id == publisher._services.links.recipient(edition.key, sport).message_id
    )

    message = rendered.message_for(recipient)
    assert message.recipient == "sport@example.org"
    assert message.sender == "digest@news.example.org"
    assert message.edition_key == edition.key
    text, html = parts(message.data)
    assert "Sport story" in text and "Local story" not in text
    assert "https://news.example.org/archive/daily/2026-11-27" in html
    full = parts(
        rendered.message_for(publisher._services.links.recipient(edition.key, everyone)).data
    )[0]
    assert "Sport story" in full and "Local story" in full and 'Hello Ann, "A" Reader,' in full


def test_the_senders_message_carries_every_per_reader_link(publisher: Publisher) -> None:
    """``message_factory``, what a sender calls per claimed row, with a return path and
    per-reader counting on: each reader's copy has its own VERP envelope sender, its own
    List-Unsubscribe URL and ``unsubscribe+VERP@`` mailto, preferences link, signed reader
    tag on every tracked link and on the open image, and Message-ID, each read back by the
    reader of its kind (the verifiers the web and the inbound side use)."""
    add(publisher, "Sport story", DAY1 - timedelta(hours=1), "sport")
    settings = publisher._services.settings
    publisher = reconfigured(
        publisher,
        mail=dataclasses.replace(settings.mail, return_path="bounces@news.example.org"),
        engagement=dataclasses.replace(settings.engagement, per_reader=True, opens=True),
    )
    subs = publisher._services.store.subscribers
    readers = [
        subs.add("ann@example.org", name="Ann Reader", status=ACTIVE),
        subs.add("bob@example.org", status=ACTIVE),
    ]
    editions, links = publisher._services.editions, publisher._services.links
    edition = editions.open("daily")
    build = editions.message_factory()
    seen: set[str] = set()
    for reader in readers:
        claim = ClaimedDelivery(reader.id, edition.id, edition.key, reader.id, reader.email, "")
        message = build(claim)
        verp = message.sender.removeprefix("bounces+").removesuffix("@news.example.org")
        assert read_verp_token("k" * 48, verp) == ("digest", edition.id, reader.id)
        headers = parse(message.data)
        message_id = links.message_id(edition.key, reader.id)
        assert headers["Message-ID"] == message.message_id == message_id
        unsubscribe = " ".join(str(headers["List-Unsubscribe"]).split())
        web, mailto, subject = re.fullmatch(
            r"<https://news\.example\.org/unsubscribe/([\w-]+)>, <mailto:unsubscribe\+"
            r"([a-z0-9.]+)@news\.example\.org\?subject=([\w-]+)>",
            unsubscribe,
        ).groups()  # type: ignore[union-attr]
        assert mailto == verp and subject == web
        assert links.read(Purpose.UNSUBSCRIBE, web)[0] == reader.id
        text, html = parts(message.data)
        assert f"/unsubscribe/{web}" in text and f"/unsubscribe/{web}" in html
        prefs = re.findall(r"https://news\.example\.org/preferences/([\w-]+)", text + html)
        assert prefs and {links.read(Purpose.PREFERENCES, t)[0] for t in prefs} == {reader.id}
        tracked = re.findall(r"https://news\.example\.org/r/([\w.~-]+)", html)
        assert len(tracked) >= 3  # article, home, archive, the open image ...
        assert {LinkTokens("k" * 48).read(t).reader for t in tracked} == {reader.id}
        seen.update((verp, web, *prefs, message.message_id))
    assert len(seen) == 2 * 4  # nothing shared between the two readers


def test_retracted_after_opening_is_left_out(publisher: Publisher) -> None:
    keep = add(publisher, "Keep me", DAY1 - timedelta(hours=1))
    drop = add(publisher, "Retract me", DAY1 - timedelta(hours=2))
    edition = publisher._services.editions.open("daily")
    publisher.retract_article(str(drop))
    assert [a.id for a in publisher._services.editions.articles_of(edition)] == [keep]


def test_dkim_signing_through_settings(publisher: Publisher, tmp_path: Path) -> None:
    key, _ = make_dkim_key(tmp_path)
    dkim = dataclasses.replace(publisher.settings.dkim, private_key_path=str(key))
    publisher = reconfigured(publisher, dkim=dkim)
    add(publisher, "Signed story", DAY1 - timedelta(hours=1))
    preview = publisher.preview_edition("daily")
    assert preview.message.data.startswith(b"DKIM-Signature:")
    assert "d=news.example.org" in parse(preview.message.data)["DKIM-Signature"].replace(" ", "")


def test_test_copy_goes_to_the_outbox_without_creating_the_edition(
    publisher: Publisher, tmp_path: Path
) -> None:
    add(publisher, "Story for the test copy", DAY1 - timedelta(hours=1))
    reply = publisher.send_test_copy("Editor@Example.org", "daily")
    files = list((tmp_path / "outbox" / "daily_2026-11-27").glob("*.eml"))
    assert len(files) == 1 and str(files[0]) in reply
    message = parse(files[0].read_bytes())
    assert message["To"].addresses[0].addr_spec == "editor@example.org"
    assert "Story for the test copy" in parts(files[0].read_bytes())[0]
    assert publisher._services.store.editions.find("daily/2026-11-27") is None


def test_preview_of_a_subscriber_with_nothing_is_a_clear_error(publisher: Publisher) -> None:
    add(publisher, "Only politics", DAY1 - timedelta(hours=1), "politics")
    publisher._services.store.subscribers.add(
        "opera@example.org", status=ACTIVE, categories=["opera"]
    )
    with pytest.raises(NotFound, match=r"opera@example\.org"):
        publisher.preview_edition("daily", "opera@example.org")


def test_cli_preview_writes_three_files_without_creating_the_edition(
    project: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"PUBLISHER_SECRET_KEY": "s" * 48}
    assert runner.invoke(main, ["--root", str(project), "init"], env=env).exit_code == 0
    story = tmp_path / "story.md"
    now = datetime.now(UTC) - timedelta(hours=1)
    story.write_text(
        f"---\ntitle: Preview story\ndate: {now.isoformat()}\ncategories: [Local]\n---\n\nBody.\n",
        encoding="utf-8",
    )
    added = runner.invoke(main, ["--root", str(project), "articles", "add", str(story)], env=env)
    assert added.exit_code == 0, added.output
    out = tmp_path / "preview"
    result = runner.invoke(
        main, ["--root", str(project), "digest", "preview", "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "1 article(s)" in result.output
    assert "Preview story" in (out / "digest.html").read_text(encoding="utf-8")
    assert "Preview story" in (out / "digest.txt").read_text(encoding="utf-8")
    assert parse((out / "digest.eml").read_bytes())["List-Unsubscribe-Post"]
    missing = runner.invoke(
        main,
        [
            "--root",
            str(project),
            "digest",
            "preview",
            "--subscriber",
            "no@example.org",
            "--out",
            str(out),
        ],
        env=env,
    )
    assert missing.exit_code == 1
    assert missing.output.strip().startswith("error: no subscriber matches 'no@example.org'")


def test_archive_copy_has_every_article_and_no_personal_links(publisher: Publisher) -> None:
    digest = dataclasses.replace(publisher.settings.digest, max_articles=2)
    publisher = reconfigured(publisher, digest=digest)
    for n in range(4):
        add(publisher, f"Archive story {n}", DAY1 - timedelta(hours=n + 1))
    edition = publisher._services.editions.open("daily")
    html = publisher.archive_html(edition.key)
    assert all(f"Archive story {n}" in html for n in range(4))
    assert "more stories in the archive" not in html
    assert 'href="https://news.example.org/unsubscribe"' in html
    with pytest.raises(NotFound):
        publisher.archive_html("daily/1999-01-01")


def test_the_database_plans_the_ledger_as_the_digest_rules_say(publisher: Publisher) -> None:
    """The ledger written by one INSERT ... SELECT gives each reader the variant that the
    digest's own rules (``plan_audience``, reader by reader) give them; nobody else."""
    many = [f"c{n:02d}" for n in range(70)]  # more slugs than one 62-bit mask word holds
    add(publisher, "Sport story", DAY1 - timedelta(hours=1), "sport")
    add(publisher, "Local story", DAY1 - timedelta(hours=2), "local", "sport")
    add(publisher, "Everything story", DAY1 - timedelta(hours=3), *many)
    subs = publisher._services.store.subscribers
    choices: list[tuple[str, ...]] = [
        (),
        ("sport",),
        ("local",),
        ("local", "sport"),
        ("opera",),  # nothing in this edition: no message
        ("opera", "local"),
        ("c69",),  # a slug in the second mask word
        ("c00", "c69"),
        ("c05", "sport"),
    ]
    for n, chosen in enumerate(choices * 3):
        subs.add(f"r{n}@example.org", status=ACTIVE, categories=chosen)
    subs.add("weekly@example.org", status=ACTIVE, frequency=Frequency.WEEKLY)
    subs.add("pending@example.org")
    subs.add("gone@example.org", status=ACTIVE)
    subs.suppress("gone@example.org", "hard bounce")
    editions, mailer = publisher._services.editions, publisher._services.mailer
    expected = {s.id: variant for s, variant in editions.recipients(editions.open("daily"))}
    assert len(expected) == 8 * 3 and len(set(expected.values())) == 4

    assert mailer.plan(Frequency.DAILY).extra["recipients"] == len(expected)
    edition = mailer.prepare(Frequency.DAILY)
    rows = publisher._services.store.deliveries.rows(edition.id)
    assert {r["subscriber_id"]: r["variant"] for r in rows} == expected
    assert {r["state"] for r in rows} == {"pending"}

    # The edition is planned once: a rerun writes nothing, a later reader waits for the next.
    late = subs.add("late@example.org", status=ACTIVE)
    assert mailer.prepare(Frequency.DAILY) == edition
    after = publisher._services.store.deliveries.rows(edition.id)
    assert len(after) == len(rows) and late.id not in {r["subscriber_id"] for r in after}


def test_the_ledger_names_each_readers_language_resolved_at_send_time(
    publisher: Publisher,
) -> None:
    """The planning INSERT ... SELECT writes ``language/article-set`` per reader: their own
    language, or the site's *now* for a reader who never chose (COALESCE in SQL). Each
    (language, categories) variant is rendered in its language, with its language's
    articles first."""
    from publisher.delivery import MemoryTransport
    from publisher.i18n import translations

    urdu = ArticleInput(
        title="پل کھل گیا",
        content_html="<p>پل کھل گیا۔</p>",
        published_at=DAY1 - timedelta(hours=3),
        categories=(Category("local", "Local"),),
        language="ur",
    )
    publisher.store_article(urdu)
    add(publisher, "Sport story", DAY1 - timedelta(hours=1), "sport")
    subs = publisher._services.store.subscribers
    ur = subs.add("ur@example.org", status=ACTIVE, language="ur")
    never = subs.add("never@example.org", status=ACTIVE)
    ar = subs.add("ar@example.org", status=ACTIVE, language="ar", categories=["sport"])
    services = publisher._services
    french = dataclasses.replace(
        services.settings, site=dataclasses.replace(services.settings.site, language="fr")
    )
    transport = MemoryTransport()
    site_fr = make_publisher(
        french, store=services.store, clock=services.clock, transport=transport
    )
    report = site_fr.send_digest(Frequency.DAILY, DAY1)
    rows = services.store.deliveries.rows(services.store.editions.get(report.edition_key).id)
    named = {r["subscriber_id"]: r["variant"] for r in rows}
    assert {s: v.split("/")[0] for s, v in named.items()} == {
        ur.id: "ur",
        never.id: "fr",
        ar.id: "ar",
    }
    assert named[ur.id].split("/")[1] == named[never.id].split("/")[1] != named[ar.id].split("/")[1]
    by_reader = {m.recipient: parse(m.data) for m in transport.sent}
    assert len(by_reader) == 3
    for address, language in (("ur", "ur"), ("never", "fr"), ("ar", "ar")):
        _text, html = parts(by_reader[f"{address}@example.org"].as_bytes())
        assert f'<html lang="{language}"' in html
        assert translations(language).gettext("Change your preferences") in html
    ur_text = parts(by_reader["ur@example.org"].as_bytes())[0]
    fr_text = parts(by_reader["never@example.org"].as_bytes())[0]
    assert ur_text.find("پل کھل گیا") < ur_text.find("Sport story")  # Urdu first for Urdu
    assert fr_text.find("Sport story") < fr_text.find("پل کھل گیا")  # newest first otherwise


def test_planners_of_one_edition_at_once_write_one_row_per_reader(
    publisher: Publisher, settings: Settings, database_url: str
) -> None:
    """The first planner writes the edition's rows with a plain INSERT (no per-row
    conflict check: half the time of a large plan); planners take turns on the edition, so
    four at once, each in its own thread and connection pool, still write one row per
    reader and none fails."""
    import threading

    from publisher.store import open_store

    add(publisher, "Story", DAY1 - timedelta(hours=1))
    for n in range(300):
        publisher._services.store.subscribers.add(f"r{n}@example.org", status=ACTIVE)
    edition_id = publisher._services.editions.open("daily").id
    start, errors = threading.Barrier(4), []

    def plan() -> None:
        own = open_store(database_url, "https://news.example.org")
        try:
            mine = make_publisher(publisher._services.settings, store=own, clock=lambda: DAY1)
            start.wait()
            mine._services.mailer.prepare(Frequency.DAILY, DAY1)
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = publisher._services.store.deliveries.rows(edition_id)
    assert len(rows) == 300 == len({r["subscriber_id"] for r in rows})
