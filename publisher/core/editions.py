"""Editions of the digest: plan and open them, choose their readers, render once, personalise.

Rendering is the expensive step (Jinja2 and premailer, tens of milliseconds), so each
variant of an edition is rendered once per process and every reader's message is made from
its bytes; only the links and the Message-ID differ per reader (see :class:`Links`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from publisher.addresses import normalise_address
from publisher.config import Settings
from publisher.core.clock import Clock
from publisher.core.links import Links
from publisher.delivery import MessageFactory
from publisher.digest import (
    DigestOptions,
    DkimSigner,
    EmailRenderer,
    LinkRewriter,
    PlanOptions,
    RenderedEdition,
    RenderedVariant,
    choice_variant,
    first_window_start,
    language_of_variant,
    ledger_variant,
    period_key,
    plan_audience,
    render_edition,
    untracked,
)
from publisher.exceptions import NotFound, PermanentDeliveryError
from publisher.store import ChoiceKey, Store
from publisher.types import (
    Article,
    ClaimedDelivery,
    Edition,
    Frequency,
    OutgoingMessage,
    Recipient,
    Subscriber,
    SubscriberStatus,
)

_ChoiceRender = tuple[RenderedEdition, str | None]  # an edition rendered for one choice
_Choice = tuple[str, frozenset[str]]  # (language, categories): what picks a variant
_RowRender = tuple[RenderedEdition, RenderedVariant | None]  # what a ledger row's message uses
_EditionRenders = tuple[
    Edition,
    dict[_Choice, _ChoiceRender],  # renders by what picks a variant
    Callable[[int, str, str], Recipient],  # a reader's links (core.Links.digest_recipients)
    dict[tuple[str | None, tuple[str, ...]], _RowRender],  # renders by what a row names
]
RENDER_CACHE_EDITIONS = 4  # rendered editions kept by a long-running worker
HIDDEN_STATES = frozenset({"skipped"})  # editions that never went out have no web copy


@dataclass(frozen=True)
class DigestPreview:
    """A reader's digest as files: decoded HTML and text, and the message as sent."""

    edition: Edition
    subject: str
    html: str
    text: str
    message: OutgoingMessage


def digest_options(settings: Settings) -> DigestOptions:
    s = settings
    return DigestOptions(
        site_title=s.site.title,
        site_url=s.site.url,
        from_address=s.digest.from_address,
        from_name=s.digest.from_name,
        reply_to=s.digest.reply_to,
        logo_url=s.site.logo_url,
        logo_width=s.digest.logo_width,
        logo_height=s.digest.logo_height,
        postal_address=s.site.postal_address,
        language=s.site.language,
        timezone=s.zone,
        sender_id=s.digest.sender_id,
        plan=PlanOptions(s.digest.max_articles, s.digest.category_order, s.site.language),
    )


@dataclass(eq=False)
class Editions:
    """One period key, one edition; what goes in it, who gets which variant, how it reads."""

    store: Store
    options: DigestOptions
    renderer: EmailRenderer
    signer: Callable[[], DkimSigner | None]
    links: Links
    clock: Clock
    send_empty: bool = False
    max_age_days: int = 7
    tracker: Callable[[Edition], LinkRewriter | None] = lambda edition: None
    """Rewrites a sent edition's links through ``/r/`` (see core.engagement)."""

    def _next_window(self, frequency: Frequency, now: datetime) -> tuple[datetime, list[Article]]:
        previous = self.store.editions.latest(frequency)
        start = previous.window_end if previous else first_window_start(frequency, now)
        oldest = now - timedelta(days=self.max_age_days)
        return start, self.store.articles.available_between(start, now, oldest)

    def plan(self, frequency: Frequency | str, now: datetime | None = None) -> Edition:
        """The edition that would go out now, without creating it (``id`` 0 when new)."""
        frequency = Frequency(frequency)
        now = now or self.clock()
        key = period_key(frequency, now, self.options.timezone)
        existing = self.store.editions.find(key)
        if existing is not None:
            return existing
        start, articles = self._next_window(frequency, now)
        ids = [a.id for a in articles]
        status = "open" if ids or self.send_empty else "skipped"
        return Edition(0, key, frequency, start, now, tuple(ids), now, status)

    def open(self, frequency: Frequency | str, now: datetime | None = None) -> Edition:
        """Create (or return) the edition of the current period.

        Its window starts where the previous edition of the same kind was cut, so nothing
        is skipped after downtime and nothing is sent twice; the first edition ever reaches
        back one period (24 hours or 7 days). An edition without articles is stored as
        ``skipped`` unless ``digest.send_empty``, so its cutoff still counts.
        """
        planned = self.plan(frequency, now)
        if planned.id:
            return planned
        return self.store.editions.open(
            planned.key,
            planned.frequency,
            planned.window_end,
            planned.article_ids,
            window_start=planned.window_start,
            status=planned.status,
            now=planned.created_at,
        )

    def get(self, key: str) -> Edition:
        return self.store.editions.get(key)

    def settle(self, edition_id: int, now: datetime) -> Edition | None:
        """Mark the edition sent if none of its rows is unfinished (one with none at all)."""
        return self.store.editions.settle(edition_id, now)

    def sent(self, limit: int, offset: int = 0) -> list[Edition]:
        """Editions that went out, newest first (the web archive)."""
        return self.store.editions.list_sent(limit=limit, offset=offset)

    def articles_of(self, edition: Edition) -> tuple[Article, ...]:
        """The edition's stored articles, newest first, without any retracted since."""
        found = self.store.articles.by_ids(edition.article_ids)
        live = [a for a in found if not a.retracted]
        live.sort(key=lambda a: (a.published_at, a.id), reverse=True)
        return tuple(live)

    def _eligible(self, edition: Edition) -> list[Subscriber]:
        if edition.status == "skipped":
            return []
        return self.store.subscribers.eligible(edition.frequency)

    def recipients(self, edition: Edition) -> list[tuple[Subscriber, str]]:
        """Eligible subscribers with the variant each gets (named as in the ledger, language
        first); those who get nothing are left out."""
        subscribers = self._eligible(edition)
        audience = plan_audience(self.articles_of(edition), subscribers, self.options.plan)
        return [
            (s, ledger_variant(self.language_of(s), audience.assignments[s.id]))
            for s in subscribers
            if s.id in audience.assignments
        ]

    def audience(self, edition: Edition) -> tuple[list[str], dict[ChoiceKey, str], int]:
        """Who gets which variant, decided by the database in a few grouped rows.

        Returns the edition's category slugs (the bits of each choice key), the variant of
        every choice key that has one, and how many readers those keys hold. No reader is
        loaded: a million readers cost what a hundred do, in Python.
        """
        if edition.status == "skipped":
            return [], {}, 0
        articles = self.articles_of(edition)
        slugs = sorted({c.slug for a in articles for c in a.categories})
        variants: dict[ChoiceKey, str] = {}
        readers = 0
        for group in self.store.audience.groups(edition.frequency, slugs):
            variant = choice_variant(articles, group.slugs if group.chose else ())
            if group.chose and not group.slugs:
                variant = None  # chose only categories this edition does not have
            if variant is not None:
                variants[group.key] = variant
                readers += group.readers
        return slugs, variants, readers

    def fill_ledger(
        self, edition: Edition, now: datetime, not_before: Mapping[str, datetime] | None = None
    ) -> int:
        """Write the edition's ledger rows in the database (one INSERT ... SELECT); how many.

        ``not_before``: each reader's wave by their time zone name (local delivery)."""
        slugs, variants, _ = self.audience(edition)
        return self.store.audience.fill_ledger(
            edition.id,
            edition.frequency,
            slugs,
            variants,
            now,
            not_before,
            site_language=self.options.language,
        )

    def language_of(self, subscriber: Subscriber) -> str:
        """The language a reader's mail speaks: their own, or the site's when they never chose."""
        return subscriber.language or self.options.language

    # --- how it reads ------------------------------------------------------------------------

    def render(
        self,
        edition: Edition,
        subscribers: list[Subscriber],
        options: DigestOptions | None = None,
        tracked: bool = False,
        language: str = "",
    ) -> RenderedEdition:
        """Every variant these subscribers need in ``language``, rendered once each.

        ``tracked``: links go through ``/r/`` (mail that is sent; never previews, test
        copies or the archive's web copy, whose clicks are nobody's reading of the mail).
        ``language``: the readers' (the site's when empty); its articles come first.
        """
        options = options or self.options
        if language:
            options = replace(options, language=language)
        audience = plan_audience(
            self.articles_of(edition), subscribers, options.plan, options.language
        )
        link = self.tracker(edition) if tracked else None
        return render_edition(
            edition.key,
            edition.frequency,
            edition.window_end,
            audience,
            options,
            self.renderer,
            signer=self.signer(),
            clock=self.clock,
            link=link or untracked,
        )

    def preview(
        self,
        frequency: Frequency | str,
        subscriber_email: str | None = None,
        now: datetime | None = None,
        language: str = "",
    ) -> DigestPreview:
        """What one reader would get now (a real subscriber, or everything), uncreated.

        In the reader's language (the site's for a reader who never chose), or ``language``.
        """
        edition = self.plan(frequency, now)
        if subscriber_email:
            address = normalise_address(subscriber_email)
            subscriber = self.store.subscribers.get_by_email(address)
        else:
            subscriber = Subscriber(0, self.options.from_address, "", SubscriberStatus.ACTIVE)
        rendered = self.render(
            edition, [subscriber], language=language or self.language_of(subscriber)
        )
        if rendered.variant_of(subscriber.id) is None:
            raise NotFound(f"article in {edition.key} for the choices of", subscriber.email)
        recipient = self.links.recipient(edition.key, subscriber, edition.id)
        variant = rendered.variant_for(subscriber.id)
        return DigestPreview(
            edition=edition,
            subject=variant.subject,
            html=variant.personal_html(recipient),
            text=variant.personal_text(recipient),
            message=rendered.message_for(recipient),
        )

    def test_message(self, address: str, frequency: Frequency | str) -> OutgoingMessage:
        """A copy of the edition that would go out now, for ``address``; nothing is stored.

        The copy carries links for subscriber 0, which the web refuses, so a forwarded test
        copy unsubscribes nobody.
        """
        edition = self.plan(frequency)
        reader = Subscriber(0, normalise_address(address), "", SubscriberStatus.ACTIVE)
        rendered = self.render(edition, [reader])
        return rendered.message_for(self.links.recipient(edition.key, reader, edition.id))

    def archive_html(self, key: str) -> str:
        """The web copy of a stored edition ("view in browser"), with every article.

        The copy is not capped (the archive is where "N more stories" points) and its
        footer links go to the site's generic unsubscribe and preferences pages. An
        edition that never went out (skipped) has no copy: NotFound.
        """
        edition = self.store.editions.get(key)
        if edition.status in HIDDEN_STATES:
            raise NotFound("edition", key)
        reader = Subscriber(0, self.options.from_address, "", SubscriberStatus.ACTIVE)
        count = max(1, len(edition.article_ids))
        uncapped = replace(self.options, plan=replace(self.options.plan, max_articles=count))
        rendered = self.render(edition, [reader], uncapped)
        recipient = self.links.archive_recipient(edition.key, reader.email)
        return rendered.variant_for(0).personal_html(recipient)

    # --- the sender's messages ---------------------------------------------------------------

    def message_factory(self) -> MessageFactory:
        """Claimed row -> message: each variant rendered once per process, then only bytes.

        Variants are rendered for one reader per distinct category choice, as rows come,
        not for the whole audience at once: a worker's memory does not grow with the list.
        Thread-safe (the sender's lanes call it): rendering is done under a lock, once.
        """
        cache: dict[int, _EditionRenders] = {}
        lock = threading.Lock()

        def build(claim: ClaimedDelivery) -> OutgoingMessage:
            entry = cache.get(claim.edition_id)
            # Rows name their variant (``ur/3a-...``: the language it was planned in) and
            # the reader's categories now; the render they pick is looked up by both as is.
            row = (claim.variant, claim.categories)
            found = entry[3].get(row) if entry else None
            if entry is None or found is None:
                language = language_of_variant(claim.variant, self.options.language)
                choice = (language, frozenset(claim.categories))
                with lock:
                    entry, (rendered, key) = self._render_choice(cache, claim, choice)
                    found = entry[3][row] = (rendered, rendered.variants[key] if key else None)
            rendered, variant = found
            if variant is None:
                raise PermanentDeliveryError(
                    f"edition {claim.edition_key} has nothing for the categories of "
                    f"subscriber {claim.subscriber_id} any more"
                )
            recipient = entry[2](claim.subscriber_id, claim.email, claim.name)
            return rendered.message_in(variant, recipient)

        return build

    def _render_choice(
        self, cache: dict[int, _EditionRenders], claim: ClaimedDelivery, choice: _Choice
    ) -> tuple[_EditionRenders, _ChoiceRender]:
        entry = cache.get(claim.edition_id)
        if entry is None:
            while len(cache) >= RENDER_CACHE_EDITIONS:
                cache.pop(next(iter(cache)))
            edition = self.store.editions.get(claim.edition_key)
            recipients = self.links.digest_recipients(edition.key, edition.id)
            entry = cache[claim.edition_id] = (edition, {}, recipients, {})
        edition, choices, _, _ = entry
        found = choices.get(choice)
        if found is None:
            reader = Subscriber(
                claim.subscriber_id,
                claim.email,
                claim.name,
                SubscriberStatus.ACTIVE,
                edition.frequency,
                tuple(sorted(choice[1])),
            )
            rendered = self.render(edition, [reader], tracked=True, language=choice[0])
            found = choices[choice] = (rendered, rendered.variant_of(claim.subscriber_id))
        return entry, found
