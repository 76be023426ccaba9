"""The web app through starlette's TestClient: every route and every bad input of issue 5.

Real parts throughout: a SQLite file (and PostgreSQL for the subscription flow), the outbox
transport writing real .eml files, itsdangerous tokens signed with the configured key.
"""

from __future__ import annotations

import quopri
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PublisherFactory
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from webkit import (
    API_TOKEN,
    KEY,
    TestClient,
    confirm_link,
    csrf_token,
    make_settings,
    outbox_messages,
    seed_articles,
)

from publisher.core import Publisher
from publisher.exceptions import ConfigError, NotFound
from publisher.tokens import Purpose, address_tag
from publisher.types import Frequency, SubscriberStatus
from publisher.web import create_app
from publisher.web.security import Csrf

Env = dict[str, str]


def _publisher(make_pub: PublisherFactory, url: str, **env: str) -> Publisher:
    publisher = make_pub(make_settings(make_pub.project, url, **env))
    seed_articles(publisher)
    return publisher


@pytest.fixture
def publisher(project: Path, make_pub: PublisherFactory) -> Publisher:
    return _publisher(make_pub, f"sqlite:///{project / 'var' / 'web.db'}")


@pytest.fixture
def client(publisher: Publisher) -> Iterator[TestClient]:

    with TestClient(create_app(publisher)) as test_client:
        yield test_client


def subscribe_form(client: TestClient, **fields: str | list[str]) -> tuple[int, str]:
    token = csrf_token(client.get("/").text)
    response = client.post("/subscribe", data={"csrf_token": token, **fields})
    return response.status_code, response.text


def confirm(client: TestClient, link: str) -> str:
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200
    response = client.post("/" + path, data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200, response.text
    return response.text


# --- pages ------


def test_home_offers_form_feeds_autodiscovery_and_security_headers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert '<form method="post" action="/subscribe"' in html
    assert '<label for="email">' in html
    assert 'type="application/rss+xml"' in html and '/feeds/rss.xml"' in html
    assert 'type="application/atom+xml"' in html and '/feeds/atom.xml"' in html
    assert 'type="application/feed+json"' in html and '/feeds/feed.json"' in html
    # The one script: our own file that fills the hidden time zone field; nothing inline.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/timezone.js" defer>']
    assert 'value="local"' in html and 'value="sport"' in html
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    css = client.get("/static/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok" and body["database"] == "ok"
    assert body["last_edition"] is None  # no edition yet in a fresh store


def test_article_page_and_unknown_or_retracted_articles(
    client: TestClient, publisher: Publisher
) -> None:
    page = client.get("/articles/bridge-opens")
    assert page.status_code == 200
    assert "<h1>Bridge opens</h1>" in page.text and "Ann Writer" in page.text
    assert "<p>Bridge opens.</p>" in page.text
    assert client.get("/articles/no-such-story").status_code == 404
    publisher.retract_article("bridge-opens")
    assert client.get("/articles/bridge-opens").status_code == 404


def test_h3_category_page_lists_its_articles_and_autodiscovers_its_feeds(
    client: TestClient,
) -> None:
    page = client.get("/categories/local")
    assert page.status_code == 200
    assert "Bridge opens" in page.text and "Cup final tonight" not in page.text
    alternates = [line for line in page.text.splitlines() if 'rel="alternate"' in line]
    assert 'href="https://news.example.org/feeds/category/local/rss.xml"' in alternates[0]
    assert any('href="https://news.example.org/feeds/rss.xml"' in line for line in alternates)
    assert client.get("/categories/no-such-section").status_code == 404
    article = client.get("/articles/bridge-opens")
    assert '<a href="/categories/local">' in article.text


def test_app_refuses_to_start_without_a_secret_key(
    project: Path, make_pub: PublisherFactory
) -> None:

    publisher = _publisher(make_pub, f"sqlite:///{project / 'k.db'}", PUBLISHER_SECRET_KEY="")
    with pytest.raises(ConfigError, match="secret_key"):
        create_app(publisher)


# --- subscribing ------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_form_subscribe_then_confirm_records_consent(
    project: Path, backend: str, make_pub: PublisherFactory
) -> None:
    from conftest import POSTGRES_URL, _require_postgres, reset_postgres

    if backend == "sqlite":
        url = f"sqlite:///{project / 'flow.db'}"
    else:
        _require_postgres()
        reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    publisher = _publisher(make_pub, url)
    with TestClient(create_app(publisher)) as client:
        status, html = subscribe_form(
            client, email="Reader@Example.org", name="Rea", frequency="weekly", categories="sport"
        )
        assert status == 200 and "Check your inbox" in html
        pending = publisher._services.store.subscribers.get_by_email("reader@example.org")
        assert pending.status is SubscriberStatus.PENDING
        assert (pending.frequency, pending.categories) == (Frequency.WEEKLY, ("sport",))
        assert pending.consent_method == "form" and pending.consent_ip == "testclient"
        assert publisher._services.store.subscribers.eligible(Frequency.WEEKLY) == []
        [mail] = outbox_messages(project)
        assert mail["To"] == "Rea <reader@example.org>"
        assert mail["Date"].endswith("+0000")
        link = confirm_link(mail)
        assert link.startswith("https://news.example.org/confirm/")
        # GET shows a button and changes nothing (scanners open links).
        path = "/" + link.split("/", 3)[3]
        assert client.get(path).status_code == 200
        assert (
            publisher._services.store.subscribers.get(pending.id).status is SubscriberStatus.PENDING
        )
        assert "You are subscribed" in confirm(client, link)
        active = publisher._services.store.subscribers.get(pending.id)
        assert active.status is SubscriberStatus.ACTIVE
        assert active.consent_at is not None
        assert [s.id for s in publisher._services.store.subscribers.eligible(Frequency.WEEKLY)] == [
            active.id
        ]
        # Confirming again is harmless.
        assert "already subscribed" in client.get(path).text


def test_same_answer_whatever_the_address_state(client: TestClient, publisher: Publisher) -> None:
    subs = publisher._services.store.subscribers
    subs.add("active@example.org", status=SubscriberStatus.ACTIVE)
    subs.add("bounced@example.org", status=SubscriberStatus.BOUNCED)
    subs.suppress("blocked@example.org", "550 no such user")
    answers = set()
    for email in (
        "new@example.org",
        "active@example.org",
        "bounced@example.org",
        "blocked@example.org",
        "new@example.org",
    ):
        response = client.post("/subscribe", json={"email": email})
        answers.add((response.status_code, response.text))
        status, html = subscribe_form(client, email=email)
        answers.add((status, html))
    assert len({a for a in answers if a[1].startswith("{")}) == 1
    assert len({a for a in answers if not a[1].startswith("{")}) == 1
    assert subs.get_by_email("active@example.org").status is SubscriberStatus.ACTIVE
    assert subs.get_by_email("bounced@example.org").status is SubscriberStatus.BOUNCED
    with pytest.raises(NotFound):
        subs.get_by_email("blocked@example.org")
    recipients = {m["To"].addresses[0].addr_spec for m in outbox_messages(publisher.settings.root)}
    assert recipients == {"new@example.org"}


@pytest.mark.parametrize(
    "email",
    [
        "",
        "no-at-sign.example.org",
        "two@@example.org",
        "a b@example.org",
        "ann@example.org\r\nBcc: victim@example.org",
        "x" * 300 + "@example.org",
        "user@localhost",
        '"quoted local"@example.org',
        "user@example.invalid",
    ],
)
def test_bad_addresses_get_400_and_store_nothing(
    client: TestClient, publisher: Publisher, email: str
) -> None:
    response = client.post("/subscribe", json={"email": email})
    assert response.status_code == 400
    assert response.json()["field"] == "email"
    status, html = subscribe_form(client, email=email)
    assert status == 400 and 'role="alert"' in html
    assert publisher._services.store.subscribers.count() == 0


def test_unicode_local_part_and_idn_domain_are_accepted(
    client: TestClient, publisher: Publisher
) -> None:
    response = client.post("/subscribe", json={"email": "Zoë@Bücher.de"})
    assert response.status_code == 202
    assert publisher._services.store.subscribers.get_by_email("zoë@bücher.de").status == "pending"
    [mail] = outbox_messages(publisher.settings.root)
    # The header carries the domain as the envelope does: its IDNA 2008 A-label.
    assert "zoë@xn--bcher-kva.de" in str(mail["To"])


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.org", "frequency": "hourly"},
        {"email": "a@example.org", "categories": ["nope"]},
        {"email": "a@example.org", "categories": "sport"},
        {"email": ["a@example.org"]},
    ],
)
def test_bad_subscribe_fields_get_400(client: TestClient, publisher: Publisher, body: Env) -> None:
    response = client.post("/subscribe", json=body)
    if body.get("categories") == "sport":  # a single slug is taken as a list of one
        assert response.status_code == 202
        return
    assert response.status_code == 400, response.text
    assert publisher._services.store.subscribers.count() == 0


def test_malformed_json_subscribe_is_400(client: TestClient, publisher: Publisher) -> None:
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        response = client.post(
            "/subscribe", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
    assert publisher._services.store.subscribers.count() == 0


def test_form_without_valid_csrf_is_403(client: TestClient, publisher: Publisher) -> None:
    client.get("/")  # sets the cookie
    assert client.post("/subscribe", data={"email": "a@example.org"}).status_code == 403
    bad = client.post("/subscribe", data={"email": "a@example.org", "csrf_token": "x.y.z"})
    assert bad.status_code == 403
    good = csrf_token(client.get("/").text)
    client.cookies.clear()  # token without its cookie (another site's form)
    assert (
        client.post("/subscribe", data={"email": "a@example.org", "csrf_token": good}).status_code
        == 403
    )
    forged = Csrf("another key").token("n" * 24)
    client.cookies.set("publisher_csrf", "n" * 24)
    assert (
        client.post("/subscribe", data={"email": "a@example.org", "csrf_token": forged}).status_code
        == 403
    )
    assert publisher._services.store.subscribers.count() == 0


def test_subscribe_is_rate_limited_per_ip(project: Path, make_pub: PublisherFactory) -> None:

    publisher = _publisher(
        make_pub, f"sqlite:///{project / 'r.db'}", PUBLISHER_WEB__SUBSCRIBE_PER_MINUTE="2"
    )
    with TestClient(create_app(publisher)) as client:
        codes = [
            client.post("/subscribe", json={"email": f"r{i}@example.org"}).status_code
            for i in range(4)
        ]
        assert codes == [202, 202, 429, 429]
        limited = client.post("/subscribe", json={"email": "late@example.org"})
        assert limited.headers["retry-after"] == "60"
        assert "too many" in limited.json()["error"]
    assert publisher._services.store.subscribers.count() == 2


def test_oversized_bodies_get_413(client: TestClient, publisher: Publisher) -> None:
    huge = "x" * 100_000
    response = client.post("/subscribe", data={"email": "a@example.org", "name": huge})
    assert response.status_code == 413
    streamed = client.post(
        "/subscribe",
        content=iter([b'{"email": "a@example.org", "name": "', huge.encode(), b'"}']),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413
    assert publisher._services.store.subscribers.count() == 0


# --- tokens ------


def _expired(purpose: Purpose, subscriber_id: int, email: str) -> str:
    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 200 * 24 * 3600

    serializer = URLSafeTimedSerializer(KEY, salt=f"publisher.{purpose.value}", signer=Past)
    return str(serializer.dumps([subscriber_id, address_tag(email)]))


def test_bad_tokens_get_400_and_change_nothing(client: TestClient, publisher: Publisher) -> None:
    sub = publisher._services.store.subscribers.add("t@example.org")
    good = publisher._services.links.signer.make(Purpose.CONFIRM, sub.id, sub.email)
    cases = {
        "expired": _expired(Purpose.CONFIRM, sub.id, sub.email),
        "tampered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "other purpose": publisher._services.links.signer.make(
            Purpose.UNSUBSCRIBE, sub.id, sub.email
        ),
        "other key": URLSafeTimedSerializer("wrong", salt="publisher.confirm").dumps([sub.id, "x"]),
        "garbage": "not-a-token",
    }
    for what, token in cases.items():
        for path in (f"/confirm/{token}", f"/preferences/{token}"):
            response = client.get(path)
            assert response.status_code == 400, (what, path)
            assert "link" in response.text
        if what == "other purpose":
            token = good  # a confirmation token on the unsubscribe endpoint
        one_click = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 400, what
    assert "expired" in client.get(f"/confirm/{cases['expired']}").text
    assert publisher._services.store.subscribers.get(sub.id).status is SubscriberStatus.PENDING


def test_token_for_a_deleted_subscriber_is_refused(
    client: TestClient, publisher: Publisher
) -> None:
    sub = publisher._services.store.subscribers.add("gone@example.org")
    tokens = {p: publisher._services.links.signer.make(p, sub.id, sub.email) for p in Purpose}
    publisher._services.store.subscribers.remove(sub.id)
    reused = publisher._services.store.subscribers.add("new-owner@example.org")  # may reuse the id
    assert client.get(f"/confirm/{tokens[Purpose.CONFIRM]}").status_code == 400
    assert client.get(f"/preferences/{tokens[Purpose.PREFERENCES]}").status_code == 400
    response = client.post(
        f"/unsubscribe/{tokens[Purpose.UNSUBSCRIBE]}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 400
    assert publisher._services.store.subscribers.get(reused.id).status is SubscriberStatus.PENDING


# --- unsubscribing (RFC 8058) ------


def _active(publisher: Publisher, email: str = "u@example.org") -> tuple[int, str]:
    sub = publisher._services.store.subscribers.add(email, status=SubscriberStatus.ACTIVE)
    return sub.id, publisher._services.links.signer.make(Purpose.UNSUBSCRIBE, sub.id, sub.email)


def test_b2_get_shows_a_button_and_never_unsubscribes(
    client: TestClient, publisher: Publisher
) -> None:
    sub_id, token = _active(publisher)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert '<form method="post">' in page.text
    assert publisher._services.store.subscribers.get(sub_id).status is SubscriberStatus.ACTIVE


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_b2_b6_one_click_post_unsubscribes_at_once(
    client: TestClient, publisher: Publisher, encoding: str
) -> None:
    sub_id, token = _active(publisher)
    client.cookies.clear()
    for _ in range(2):  # idempotent: the same answer twice
        if encoding == "urlencoded":
            response = client.post(
                f"/unsubscribe/{token}",
                data={"List-Unsubscribe": "One-Click"},
                follow_redirects=False,
            )
        else:
            response = client.post(
                f"/unsubscribe/{token}",
                files={"List-Unsubscribe": (None, "One-Click")},
                follow_redirects=False,
            )
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert "location" not in response.headers
        assert (
            publisher._services.store.subscribers.get(sub_id).status
            is SubscriberStatus.UNSUBSCRIBED
        )
    # B6: honoured at once, and suppressed so a send already under way skips it.
    assert publisher._services.store.subscribers.eligible(Frequency.DAILY) == []
    assert publisher._services.store.subscribers.is_suppressed("u@example.org")


def test_b2_post_without_the_one_click_body_is_refused(
    client: TestClient, publisher: Publisher
) -> None:
    sub_id, token = _active(publisher)
    assert client.post(f"/unsubscribe/{token}", data={"x": "y"}).status_code == 400
    assert (
        client.post(
            f"/unsubscribe/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "text/plain"},
        ).status_code
        == 415
    )
    assert publisher._services.store.subscribers.get(sub_id).status is SubscriberStatus.ACTIVE


def test_unsubscribed_reader_must_confirm_again(client: TestClient, publisher: Publisher) -> None:
    sub_id, token = _active(publisher, "back@example.org")
    old_confirm = publisher._services.links.signer.make(Purpose.CONFIRM, sub_id, "back@example.org")
    client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    # An old confirmation link cannot bring the reader back.
    page = client.get(f"/confirm/{old_confirm}")
    assert (
        client.post(
            f"/confirm/{old_confirm}", data={"csrf_token": csrf_token(page.text)}
        ).status_code
        == 400
    )
    assert publisher._services.store.subscribers.get(sub_id).status is SubscriberStatus.UNSUBSCRIBED
    assert client.post("/subscribe", json={"email": "back@example.org"}).status_code == 202
    assert publisher._services.store.subscribers.get(sub_id).status is SubscriberStatus.PENDING
    assert publisher._services.store.subscribers.eligible(Frequency.DAILY) == []
    [mail] = outbox_messages(publisher.settings.root)
    confirm(client, confirm_link(mail))
    assert publisher._services.store.subscribers.get(sub_id).status is SubscriberStatus.ACTIVE
    assert not publisher._services.store.subscribers.is_suppressed("back@example.org")


# --- preferences ------


def test_preferences_change_frequency_and_categories(
    client: TestClient, publisher: Publisher
) -> None:
    sub = publisher._services.store.subscribers.add("p@example.org", status=SubscriberStatus.ACTIVE)
    token = publisher._services.links.signer.make(Purpose.PREFERENCES, sub.id, sub.email)
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "p@example.org" in page.text
    csrf = csrf_token(page.text)
    saved = client.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf, "frequency": "weekly", "categories": ["local", "sport"]},
    )
    assert saved.status_code == 200 and "preferences are saved" in saved.text
    changed = publisher._services.store.subscribers.get(sub.id)
    assert (changed.frequency, changed.categories) == (Frequency.WEEKLY, ("local", "sport"))
    bad = client.post(f"/preferences/{token}", data={"csrf_token": csrf, "frequency": "hourly"})
    assert bad.status_code == 400 and "frequency" in bad.text
    unknown = client.post(
        f"/preferences/{token}",
        data={"csrf_token": csrf, "frequency": "daily", "categories": "nope"},
    )
    assert unknown.status_code == 400 and "unknown category" in unknown.text
    no_csrf = client.post(f"/preferences/{token}", data={"frequency": "daily"})
    assert no_csrf.status_code == 403
    assert publisher._services.store.subscribers.get(sub.id).frequency is Frequency.WEEKLY
    # The page's unsubscribe button posts the RFC 8058 form to the unsubscribe link.
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text


# --- publishing API ------

ARTICLE = {
    "title": "Council <b>votes</b>",
    "content_html": "<p>Yes.</p><script>alert(1)</script><img src=x onerror=alert(2)>",
    "published_at": "2026-11-20T08:30:00Z",
    "categories": ["Local"],
}


def _api(client: TestClient, body: object, token: str = API_TOKEN) -> object:
    return client.post("/api/articles", json=body, headers={"Authorization": f"Bearer {token}"})


def test_api_publishes_and_updates_with_sanitised_html(
    client: TestClient, publisher: Publisher
) -> None:
    created = client.post(
        "/api/articles", json=ARTICLE, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert created.status_code == 201, created.text
    article = created.json()["article"]
    assert created.json()["outcome"] == "created"
    assert "<script" not in article["content_html"] and "onerror" not in article["content_html"]
    again = client.post(
        "/api/articles",
        json={**ARTICLE, "guid": article["guid"], "summary": "Now updated."},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert again.status_code == 200 and again.json()["outcome"] == "updated"
    page = client.get(f"/articles/{article['slug']}")
    # The one script element is the JSON-LD data block (never run); no other may appear.
    body = re.sub(r'<script type="application/ld\+json">[^<]*</script>', "", page.text)
    assert "<script" not in body and "onerror" not in page.text
    assert "Council &lt;b&gt;votes&lt;/b&gt;" in page.text or "<b>" not in page.text


def test_api_bad_inputs(client: TestClient, publisher: Publisher) -> None:
    before = publisher._services.store.articles.count(include_retracted=True)
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    assert client.post("/api/articles", json=ARTICLE).status_code == 401
    wrong = client.post("/api/articles", json=ARTICLE, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    basic = client.post("/api/articles", json=ARTICLE, headers={"Authorization": API_TOKEN})
    assert basic.status_code == 401
    malformed = client.post(
        "/api/articles", content=b'{"title": ', headers={**auth, "content-type": "application/json"}
    )
    assert malformed.status_code == 422 and "not valid JSON" in malformed.json()["error"]
    untitled = client.post("/api/articles", json={"content_html": "<p>x</p>"}, headers=auth)
    assert untitled.status_code == 422 and "title" in untitled.json()["error"]
    mixed = client.post("/api/articles", json=[ARTICLE, {"content_html": "x"}], headers=auth)
    assert mixed.status_code == 422
    form = client.post("/api/articles", data={"title": "x"}, headers=auth)
    assert form.status_code == 415
    huge = {**ARTICLE, "content_html": "<p>" + "x" * 2_100_000 + "</p>"}
    assert client.post("/api/articles", json=huge, headers=auth).status_code == 413
    assert publisher._services.store.articles.count(include_retracted=True) == before


def test_api_is_disabled_without_a_token(project: Path, make_pub: PublisherFactory) -> None:

    publisher = _publisher(make_pub, f"sqlite:///{project / 'n.db'}", PUBLISHER_WEB__API_TOKEN="")
    with TestClient(create_app(publisher)) as client:
        response = client.post("/api/articles", json=ARTICLE, headers={"Authorization": "Bearer "})
        assert response.status_code == 503 and "disabled" in response.json()["error"]


def test_unknown_routes_and_methods_get_plain_error_pages(client: TestClient) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert client.get("/subscribe").status_code == 405
    assert client.head("/").status_code == 200
    as_json = client.get("/no/such/page", headers={"accept": "application/json"})
    assert as_json.status_code == 404 and as_json.json() == {"error": "Not Found"}


def test_repeated_requests_do_not_flood_a_pending_inbox(
    project: Path, make_pub: PublisherFactory
) -> None:
    from datetime import UTC, datetime, timedelta

    moments = [datetime(2026, 11, 27, 9, 0, tzinfo=UTC)]
    settings = make_settings(project, f"sqlite:///{project / 'c.db'}")
    publisher = make_pub(settings, clock=lambda: moments[-1])
    with TestClient(create_app(publisher)) as client:
        for _ in range(3):
            assert client.post("/subscribe", json={"email": "p@example.org"}).status_code == 202
        assert len(outbox_messages(project)) == 1
        moments.append(moments[-1] + timedelta(minutes=11))
        assert client.post("/subscribe", json={"email": "p@example.org"}).status_code == 202
        assert len(outbox_messages(project)) == 2


def test_lost_links_can_be_mailed_to_active_readers_only(
    client: TestClient, publisher: Publisher
) -> None:
    subs = publisher._services.store.subscribers
    active = subs.add("active@example.org", status=SubscriberStatus.ACTIVE)
    subs.add("pending@example.org")
    subs.add("left@example.org", status=SubscriberStatus.UNSUBSCRIBED)
    page = client.get("/preferences")
    assert page.status_code == 200 and 'action="/preferences"' in page.text
    answers = set()
    for email in (
        "active@example.org",
        "pending@example.org",
        "left@example.org",
        "nobody@example.org",
        "active@example.org",
    ):
        response = client.post(
            "/preferences", data={"email": email, "csrf_token": csrf_token(page.text)}
        )
        answers.add((response.status_code, response.text))
    assert len(answers) == 1
    [mail] = outbox_messages(publisher.settings.root)  # once, though asked twice
    assert mail["To"].addresses[0].addr_spec == "active@example.org"
    text = mail.get_body(("plain",))
    assert text is not None
    body = quopri.decodestring(str(text.get_payload()).encode()).decode()
    link = body.split("topics: ", 1)[1].split()[0]
    assert link.startswith("https://news.example.org/preferences/")
    path = "/" + link.split("/", 3)[3]
    assert client.get(path).status_code == 200
    assert "active@example.org" in client.get(path).text
    assert subs.get(active.id).status is SubscriberStatus.ACTIVE
    bad = client.post("/preferences", data={"email": "no-at", "csrf_token": csrf_token(page.text)})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert client.post("/preferences", data={"email": "active@example.org"}).status_code == 403
