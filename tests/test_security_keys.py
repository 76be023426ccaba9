"""Rotating the secret key keeps the links already mailed working, and a link that no longer
verifies offers a way out (enter your address, get a fresh link).

``PUBLISHER_SECRET_KEY_FALLBACKS`` (comma separated) lists former keys: links are signed
with ``PUBLISHER_SECRET_KEY`` and accepted when any key verifies them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from digest_support import parts
from webkit import TestClient, csrf_token, make_settings, seed_articles

from publisher.core import SubscribeRequest, make_publisher
from publisher.delivery import MemoryTransport
from publisher.types import SubscriberStatus
from publisher.web import create_app

OLD = "old-key-0123456789abcdef0123456789"
NEW = "new-key-fedcba9876543210fedcba9876"
READER = "reader@example.org"
_UNSUBSCRIBE = re.compile(r"Unsubscribe: (\S+)")


@contextmanager
def app(project: Path, **env: str) -> Iterator[tuple[TestClient, MemoryTransport]]:
    settings = make_settings(project, f"sqlite:///{project / 'var' / 'keys.db'}", **env)
    transport = MemoryTransport()
    publisher = make_publisher(settings, transport=transport, create=True)
    try:
        with TestClient(create_app(publisher)) as client:
            yield client, transport
    finally:
        publisher.close()


def ask_for_links(client: TestClient, transport: MemoryTransport) -> str:
    """POST the lost-links form; returns the unsubscribe path of the mail it sends."""
    form = client.get("/preferences")
    posted = client.post(
        "/preferences", data={"csrf_token": csrf_token(form.text), "email": READER}
    )
    assert posted.status_code == 200
    text, _html = parts(transport.sent[-1].data)
    match = _UNSUBSCRIBE.search(text)
    assert match, text
    return "/" + match.group(1).split("://", 1)[1].split("/", 1)[1]


def test_links_signed_with_a_former_key_work_while_it_is_a_fallback(project: Path) -> None:
    with app(project, PUBLISHER_SECRET_KEY=OLD) as (client, transport):
        publisher = client.app.state.publisher  # type: ignore[attr-defined]
        seed_articles(publisher)
        publisher.add_subscriber(SubscribeRequest(READER, method="cli"), confirmed=True)
        old_link = ask_for_links(client, transport)
    rotated = {"PUBLISHER_SECRET_KEY": NEW, "PUBLISHER_SECRET_KEY_FALLBACKS": f" x, {OLD} "}
    with app(project, **rotated) as (client, transport):
        page = client.get(old_link)
        assert page.status_code == 200 and READER in page.text
        fresh = ask_for_links(client, transport)
        assert fresh != old_link  # new links are signed with the new key
    with app(project, PUBLISHER_SECRET_KEY=NEW) as (client, _transport):
        assert client.get(fresh).status_code == 200
        assert client.get(old_link).status_code == 400  # the old key is gone now
        done = client.post(old_link, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 400


def test_a_stale_unsubscribe_link_offers_a_fresh_one(project: Path) -> None:
    with app(project, PUBLISHER_SECRET_KEY=OLD) as (client, transport):
        publisher = client.app.state.publisher  # type: ignore[attr-defined]
        seed_articles(publisher)
        publisher.add_subscriber(SubscribeRequest(READER, method="cli"), confirmed=True)
        old_link = ask_for_links(client, transport)
    with app(project, PUBLISHER_SECRET_KEY=NEW) as (client, transport):
        page = client.get(old_link)
        assert page.status_code == 400
        assert "can no longer be checked" in page.text
        assert 'action="/preferences"' in page.text and 'name="email"' in page.text
        fresh = ask_for_links(client, transport)  # the form on that page
        unsubscribed = client.post(fresh, data={"List-Unsubscribe": "One-Click"})
        assert unsubscribed.status_code == 200
        publisher = client.app.state.publisher  # type: ignore[attr-defined]
        (reader,) = publisher.subscribers()
        assert (reader.email, reader.status) == (READER, SubscriberStatus.UNSUBSCRIBED)


def test_bounce_addresses_signed_with_a_former_key_are_still_recognised() -> None:
    """A bounce of mail sent before the rotation still names its delivery (VERP)."""
    from publisher.exceptions import TokenError
    from publisher.tokens import read_verp_token, verp_token

    token = verp_token(OLD, "digest", 12, 34)
    assert read_verp_token(NEW, token, (OLD,)) == ("digest", 12, 34)
    with pytest.raises(TokenError):
        read_verp_token(NEW, token)
