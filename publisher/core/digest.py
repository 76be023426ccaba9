"""Editions of the digest: the period key, the cutoff window, rendering and personalising."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from publisher.addresses import normalise_address
from publisher.core.base import PublisherBase
from publisher.digest import (
    DigestOptions,
    DkimSigner,
    EmailRenderer,
    PlanOptions,
    RenderedEdition,
    first_window_start,
    load_signer,
    message_id_for,
    period_key,
    plan_audience,
    render_edition,
)
from publisher.exceptions import NotFound
from publisher.resources import EMAIL_TEMPLATES_DIR
from publisher.tokens import Purpose, TokenSigner
from publisher.types import (
    Article,
    Edition,
    Frequency,
    OutgoingMessage,
    Recipient,
    Subscriber,
    SubscriberStatus,
)

_ChoiceRender = tuple[RenderedEdition, str | None]  # an edition rendered for one choice
RENDER_CACHE_EDITIONS = 4  # rendered editions kept by a long-running worker


@dataclass(frozen=True)
class DigestPreview:
    """A reader's digest as files: decoded HTML and text, and the message as sent."""

    edition: Edition
    subject: str
    html: str
    text: str
    message: OutgoingMessage


class DigestMixin(PublisherBase):
    """Editions: open, plan, render once per variant, personalise per recipient."""

    @property
    def digest_options(self) -> DigestOptions:
        s = self.settings
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
            plan=PlanOptions(s.digest.max_articles, s.digest.category_order),
        )

    @property
    def message_domain(self) -> str:
        """The domain of Message-IDs: the sending domain (aligned with DKIM's d=)."""
        return self.settings.digest.from_address.rpartition("@")[2].lower() or "localhost"

    def email_renderer(self) -> EmailRenderer:
        if self._renderer is None:
            self._renderer = EmailRenderer(EMAIL_TEMPLATES_DIR)
        return self._renderer

    def dkim_signer(self) -> DkimSigner | None:
        """The DKIM signer when a key is configured (checked once: readable, aligned)."""
        dkim = self.settings.dkim
        if not dkim.private_key_path:
            return None
        if self._signer is None:
            self._signer = load_signer(
                self.settings.path(dkim.private_key_path),
                dkim.selector,
                dkim.domain,
                self.settings.digest.from_address,
            )
        return self._signer

    def _next_window(self, frequency: Frequency, now: datetime) -> tuple[datetime, list[Article]]:
        previous = self.store.editions.latest(frequency)
        start = previous.window_end if previous else first_window_start(frequency, now)
        oldest = now - timedelta(days=self.settings.digest.max_age_days)
        return start, self.store.articles.available_between(start, now, oldest)

    def _status_for(self, article_ids: list[int]) -> str:
        return "open" if article_ids or self.settings.digest.send_empty else "skipped"

    def plan_edition(self, frequency: Frequency | str, now: datetime | None = None) -> Edition:
        """The edition that would go out now, without creating it (``id`` 0 when new)."""
        frequency = Frequency(frequency)
        now = now or self.clock()
        key = period_key(frequency, now, self.settings.zone)
        existing = self.store.editions.find(key)
        if existing is not None:
            return existing
        start, articles = self._next_window(frequency, now)
        ids = [a.id for a in articles]
        return Edition(0, key, frequency, start, now, tuple(ids), now, self._status_for(ids))

    def open_edition(self, frequency: Frequency | str, now: datetime | None = None) -> Edition:
        """Create (or return) the edition of the current period.

        Its window starts where the previous edition of the same kind was cut, so nothing
        is skipped after downtime and nothing is sent twice; the first edition ever reaches
        back one period (24 hours or 7 days). An edition without articles is stored as
        ``skipped`` unless ``digest.send_empty``, so its cutoff still counts.
        """
        planned = self.plan_edition(frequency, now)
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

    def edition_articles(self, edition: Edition) -> tuple[Article, ...]:
        """The edition's stored articles, newest first, without any retracted since."""
        found = self.store.articles.by_ids(edition.article_ids)
        live = [a for a in found if not a.retracted]
        live.sort(key=lambda a: (a.published_at, a.id), reverse=True)
        return tuple(live)

    def _eligible(self, edition: Edition) -> list[Subscriber]:
        if edition.status == "skipped":
            return []
        return self.store.subscribers.eligible(edition.frequency)

    def edition_recipients(self, edition: Edition) -> list[tuple[Subscriber, str]]:
        """Eligible subscribers with the variant each gets; those who get nothing are left out."""
        subscribers = self._eligible(edition)
        audience = plan_audience(
            self.edition_articles(edition), subscribers, self.digest_options.plan
        )
        return [
            (s, audience.assignments[s.id]) for s in subscribers if s.id in audience.assignments
        ]

    def render_edition(self, edition: Edition) -> RenderedEdition:
        """Every variant of the edition rendered once (cached per edition key)."""
        cached = self._rendered.get(edition.key)
        if cached is None:
            cached = self._render(edition, self._eligible(edition))
            while len(self._rendered) >= RENDER_CACHE_EDITIONS:
                self._rendered.pop(next(iter(self._rendered)))  # the oldest rendered
            self._rendered[edition.key] = cached
        return cached

    def _render(
        self, edition: Edition, subscribers: list[Subscriber], options: DigestOptions | None = None
    ) -> RenderedEdition:
        options = options or self.digest_options
        audience = plan_audience(self.edition_articles(edition), subscribers, options.plan)
        return render_edition(
            edition.key,
            edition.frequency,
            edition.window_end,
            audience,
            options,
            self.email_renderer(),
            signer=self.dkim_signer(),
            clock=self.clock,
        )

    def recipient_for(self, edition: Edition, subscriber: Subscriber) -> Recipient:
        """The per-reader values of one message: Message-ID and signed links."""
        tokens = TokenSigner(self.settings.secret_key)
        base = self.settings.site.url.rstrip("/")
        host = self.digest_options.host
        unsubscribe = tokens.make(Purpose.UNSUBSCRIBE, subscriber.id, subscriber.email)
        preferences = tokens.make(Purpose.PREFERENCES, subscriber.id, subscriber.email)
        return Recipient(
            subscriber_id=subscriber.id,
            email=subscriber.email,
            name=subscriber.name,
            message_id=message_id_for(edition.key, subscriber.id, self.message_domain),
            unsubscribe_url=f"{base}/unsubscribe/{unsubscribe}",
            unsubscribe_mailto=f"mailto:unsubscribe@{host}?subject={unsubscribe}",
            preferences_url=f"{base}/preferences/{preferences}",
        )

    def preview_edition(
        self,
        frequency: Frequency | str,
        subscriber_email: str | None = None,
        now: datetime | None = None,
    ) -> DigestPreview:
        """What one reader would get now (a real subscriber, or everything), uncreated."""
        edition = self.plan_edition(frequency, now)
        if subscriber_email:
            subscriber = self.store.subscribers.get_by_email(normalise_address(subscriber_email))
        else:
            subscriber = Subscriber(
                0, self.settings.digest.from_address, "", SubscriberStatus.ACTIVE
            )
        rendered = self._render(edition, [subscriber])
        if rendered.variant_of(subscriber.id) is None:
            raise NotFound(f"article in {edition.key} for the choices of", subscriber.email)
        recipient = self.recipient_for(edition, subscriber)
        variant = rendered.variant_for(subscriber.id)
        return DigestPreview(
            edition=edition,
            subject=variant.subject,
            html=variant.personal_html(recipient),
            text=variant.personal_text(recipient),
            message=rendered.message_for(recipient),
        )

    def archive_html(self, key: str) -> str:
        """The web copy of a stored edition ("view in browser"), with every article.

        The copy is not capped (the archive is where "N more stories" points) and its
        footer links go to the site's generic unsubscribe and preferences pages.
        """
        edition = self.store.editions.get(key)
        reader = Subscriber(0, self.settings.digest.from_address, "", SubscriberStatus.ACTIVE)
        options = self.digest_options
        count = max(1, len(edition.article_ids))
        uncapped = replace(options, plan=replace(options.plan, max_articles=count))
        rendered = self._render(edition, [reader], uncapped)
        base = self.settings.site.url.rstrip("/")
        recipient = Recipient(
            subscriber_id=0,
            email=reader.email,
            name="",
            message_id=message_id_for(edition.key, 0, self.message_domain),
            unsubscribe_url=f"{base}/unsubscribe",
            unsubscribe_mailto=f"mailto:unsubscribe@{options.host}",
            preferences_url=f"{base}/preferences",
        )
        return rendered.variant_for(0).personal_html(recipient)

    def send_test_copy(self, email: str, frequency: Frequency | str = Frequency.DAILY) -> str:
        """Send one copy of the edition that would go out now to ``email``; returns the reply.

        The edition is not created and no ledger row is written; the copy carries links for
        subscriber 0, which the web refuses, so a forwarded test copy unsubscribes nobody.
        """
        address = normalise_address(email)
        edition = self.plan_edition(frequency)
        reader = Subscriber(0, address, "", SubscriberStatus.ACTIVE)
        rendered = self._render(edition, [reader])
        if rendered.variant_of(0) is None:  # pragma: no cover - no choices means everything
            raise NotFound("variant for", address)
        recipient = self.recipient_for(edition, reader)
        message = rendered.message_for(recipient)
        transport = self.make_transport()
        try:
            return transport.send(message)
        finally:
            transport.close()

    # --- subscribers -----------------------------------------------------------------------
