"""Clicks (and, when turned on, opens) counted per edition x link; the edition report.

The digest's links are rewritten when a variant is rendered (once per variant, so it costs
nothing per reader); a click answers 302 from memory and is added to an in-memory tally
that :meth:`Engagement.flush` writes (the web service flushes once a second). What is
stored, and for how long, is written down in docs/engagement.md.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from publisher.config import Settings
from publisher.core.clock import Clock
from publisher.digest import LinkRewriter
from publisher.engagement import (
    Classifier,
    ClickTally,
    LinkToken,
    LinkTokens,
    TallyKey,
    client_key,
)
from publisher.exceptions import NotFound, TokenError
from publisher.store import Store, sent_per_minute
from publisher.types import Edition, EditionLink, EventKind, Frequency

OPEN = "open"
TARGET_CACHE = 50_000
"""Link targets kept in memory: a redirect then needs no database read."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    campaign: str


def with_utm(url: str, campaign: str, source: str) -> str:
    """``url`` with utm_source/medium/campaign added (ones already there are kept)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    have = {k for k, _ in query}
    extra = [("utm_source", source), ("utm_medium", "email"), ("utm_campaign", campaign)]
    query += [(k, v) for k, v in extra if k not in have]
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(eq=False)
class Engagement:
    """Tracked links, the click and open counters, and the per-edition report."""

    store: Store
    settings: Settings
    clock: Clock
    tally: ClickTally = field(default_factory=ClickTally)
    _targets: dict[tuple[int, int], Target] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def tokens(self) -> LinkTokens:
        return LinkTokens(self.settings.secret_key)

    @cached_property
    def classifier(self) -> Classifier:
        e = self.settings.engagement
        return Classifier(e.automated_networks, e.automated_agents)

    @property
    def home(self) -> str:
        return self.settings.site.url.rstrip("/") + "/"

    # --- rendering ---------------------------------------------------------------------------

    def rewriter(self, edition: Edition) -> LinkRewriter | None:
        """The link rewriter of one stored edition (None for one not created yet)."""
        if not edition.id:
            return None
        base = self.settings.site.url.rstrip("/")
        per_reader = self.settings.engagement.per_reader
        opens = self.settings.engagement.opens
        made: dict[tuple[str, str], str] = {}

        def rewrite(url: str, kind: str, title: str, reader: str) -> str:
            if kind == OPEN and not opens:
                return ""
            token = made.get((kind, url))
            if token is None:
                link_id = self.store.engagement.register(edition.id, url, kind, title)
                token = made[(kind, url)] = self.tokens.make(edition.id, link_id)
            if per_reader:
                token += reader  # the reader's signed tag, filled in per message
            return f"{base}/o/{token}.gif" if kind == OPEN else f"{base}/r/{token}"

        return rewrite

    # --- the redirect (hot path: no database unless the target is not cached) --------------

    def click(self, token: str, method: str, user_agent: str, address: str) -> str:
        """Count one request for ``/r/TOKEN``; the URL to redirect to (home when bad)."""
        try:
            found = self.tokens.read(token)
            target = self._target(found.edition_id, found.link_id)
        except (TokenError, NotFound):
            return self.home
        self._count(token, found, method, user_agent, address)
        if self.settings.engagement.utm:
            return with_utm(target.url, target.campaign, urlsplit(self.home).hostname or "")
        return target.url

    def opened(self, token: str, method: str, user_agent: str, address: str) -> None:
        """Count one request for the open image ``/o/TOKEN.gif`` (bad tokens count nothing)."""
        try:
            found = self.tokens.read(token)
            self._target(found.edition_id, found.link_id)
        except (TokenError, NotFound):
            return
        self._count(token, found, method, user_agent, address)

    def _count(
        self, token: str, found: LinkToken, method: str, user_agent: str, address: str
    ) -> None:
        automated = self.classifier.automated(method, user_agent, address)
        who = found.reader if self.settings.engagement.per_reader else 0
        key = TallyKey(found.edition_id, found.link_id, automated, who)
        hour = int(self.clock().timestamp() // 3600)
        self.tally.add(key, token.partition("~")[0], client_key(address, user_agent), hour)

    def _target(self, edition_id: int, link_id: int) -> Target:
        found = self._targets.get((edition_id, link_id))
        if found is not None:
            return found
        link = self.store.engagement.link(edition_id, link_id)  # NotFound: redirect home
        campaign = self._campaign(edition_id)
        target = Target(link.url or self.home, campaign)
        with self._lock:
            if len(self._targets) >= TARGET_CACHE:
                self._targets.clear()
            self._targets[(edition_id, link_id)] = target
        return target

    def _campaign(self, edition_id: int) -> str:
        for edition in self.store.editions.recent(200):
            if edition.id == edition_id:
                return edition.key.replace("/", "-")
        return f"edition-{edition_id}"

    def flush(self) -> int:
        """Write the tallied clicks in one transaction; how many were written."""
        taken = self.tally.take()
        if not taken:
            return 0
        counts: Counter[tuple[int, bool]] = Counter()
        readers: Counter[tuple[int, int]] = Counter()
        for key, n in taken.items():
            counts[(key.link_id, key.automated)] += n
            if key.reader and not key.automated:
                readers[(key.link_id, key.reader)] += n
        try:
            self.store.engagement.add_counts(counts, readers)
        except Exception:
            self.tally.put_back(taken)
            raise
        return sum(taken.values())

    # --- the report --------------------------------------------------------------------------

    def latest_key(self) -> str:
        """The key of the newest edition that was sent or is being sent."""
        for edition in self.store.editions.recent(50):
            if edition.status != "skipped":
                return edition.key
        raise NotFound("edition", "(none yet)")

    def report(self, key: str | None = None) -> dict[str, Any]:
        """Everything an editor asks about one edition, JSON-ready (the latest when None)."""
        self.flush()
        edition = self.store.editions.get(key or self.latest_key())
        status = self.store.deliveries.status([edition.id], with_empty=True)
        counts = dict(status[0].counts) if status else {}
        events = self.store.events.counts_by_edition([edition.id]).get(edition.id, {})
        links = self.store.engagement.links(edition.id)
        clicks = [link for link in links if link.kind != OPEN]
        opens = [link for link in links if link.kind == OPEN]
        bounced = events.get(EventKind.HARD_BOUNCE.value, 0) + events.get(
            EventKind.SOFT_BOUNCE.value, 0
        )
        return {
            "key": edition.key,
            "frequency": Frequency(edition.frequency).value,
            "state": edition.status,
            "recipients": sum(counts.values()),
            "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0),
            "pending": sum(counts.get(s, 0) for s in ("pending", "claimed", "deferred")),
            "suppressed": counts.get("suppressed", 0),
            "bounced": bounced,
            "complaints": events.get(EventKind.COMPLAINT.value, 0),
            "unsubscribes": events.get(EventKind.UNSUBSCRIBE.value, 0),
            "clicks": {
                "human": sum(link.human for link in clicks),
                "automated": sum(link.automated for link in clicks),
            },
            "opens": {
                "counted": self.settings.engagement.opens or bool(opens),
                "human": sum(link.human for link in opens),
                "automated": sum(link.automated for link in opens),
            },
            "links": [_link_json(link) for link in clicks],
            "top_categories": self._top_categories(edition, clicks),
            "paused": edition.id in self.store.pauses.paused(),
            "timeline": {
                "created_at": _iso(edition.created_at),
                "started_at": _iso(edition.started_at),
                "sent_at": _iso(edition.sent_at),
                "per_minute": [
                    {"minute": m, "sent": n}
                    for m, n in sent_per_minute(self.store.engine, edition.id)
                ],
            },
        }

    def _top_categories(self, edition: Edition, clicks: list[EditionLink]) -> list[dict[str, Any]]:
        """Human clicks per category: its articles' links plus the category page's link."""
        by_url = {}
        for article in self.store.articles.by_ids(edition.article_ids):
            if article.categories:
                by_url[article.url] = article.categories[0]
        totals: Counter[str] = Counter()
        names: dict[str, str] = {}
        for link in clicks:
            category = by_url.get(link.url) if link.kind == "article" else None
            if category is not None:
                totals[category.slug] += link.human
                names[category.slug] = category.name
            elif link.kind == "category":
                slug = link.url.rstrip("/").rpartition("/")[2]
                totals[slug] += link.human
                names.setdefault(slug, link.title)
        ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        return [{"slug": s, "name": names[s], "clicks": n} for s, n in ranked if n][:5]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _link_json(link: EditionLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "kind": link.kind,
        "url": link.url,
        "title": link.title,
        "human": link.human,
        "automated": link.automated,
    }
