"""The one place that builds the services, ties them together and puts the facade on top.

Each service gets its collaborators as constructor arguments, so the ties show here and
nowhere else: no service inherits another or reaches one through a shared ``self``.
"""

from __future__ import annotations

import functools

from publisher.config import Settings
from publisher.core.admin import Admin
from publisher.core.articles import Articles, ingest_options
from publisher.core.clock import Clock, utc_now
from publisher.core.editions import Editions, digest_options
from publisher.core.engagement import Engagement
from publisher.core.health import Health
from publisher.core.inbound import Inbound
from publisher.core.links import Links
from publisher.core.local_delivery import LocalDelivery
from publisher.core.mailer import Mailer, sender_options
from publisher.core.ops import Operations
from publisher.core.publisher import Publisher, Services
from publisher.core.service_mails import ServiceMails
from publisher.core.subscriptions import Subscriptions
from publisher.core.syndication import Syndication
from publisher.core.templates import template_dirs
from publisher.core.transports import transport_factory
from publisher.delivery import Transport
from publisher.digest import DkimSigner, EmailRenderer, load_signer
from publisher.feeds import FeedService, Site, WebSubNotifier
from publisher.store import Store, open_store


def _dkim_signer(settings: Settings) -> DkimSigner | None:
    """The DKIM signer when a key is configured (checked once: readable, aligned)."""
    dkim = settings.dkim
    if not dkim.private_key_path:
        return None
    return load_signer(
        settings.path(dkim.private_key_path),
        dkim.selector,
        dkim.domain,
        settings.digest.from_address,
        settings.path(dkim.ed25519_key_path) if dkim.ed25519_key_path else "",
        dkim.ed25519_selector,
    )


def make_publisher(
    settings: Settings,
    *,
    store: Store | None = None,
    transport: Transport | None = None,
    clock: Clock | None = None,
    create: bool = False,
) -> Publisher:
    """The one place that builds a Publisher (lemon24/reader's ``make_reader`` is the model).

    Every service is built here over one store, transport and clock, so the ties between
    them show in this function and nowhere else. ``store``, ``transport`` and ``clock``
    replace the configured ones (tests pass a SQLite file, a
    :class:`~publisher.delivery.MemoryTransport` and a fixed clock); ``create`` is for
    ``publisher init`` only: it may make a new SQLite file's folder.
    """
    clock = clock or utc_now
    store = store or open_store(settings.database_url, settings.site.url, create=create)
    transports = transport_factory(settings, transport)
    links = Links(settings)
    site = Site(
        settings.site.url,
        settings.site.title,
        settings.site.description,
        settings.site.language,
        settings.feeds.hubs,
    )
    websub = WebSubNotifier(
        settings.feeds.hubs,
        attempts=settings.feeds.hub_attempts,
        base_delay=settings.feeds.hub_retry_seconds,
    )
    feed_service = FeedService(
        site,
        store.feed_items,
        settings.path(settings.feeds.dir),
        items=settings.feeds.items,
        notify=websub.notify,
        archives=settings.feeds.archives,
    )
    articles = Articles(store.articles, ingest_options(settings), clock)
    feeds = Syndication(site, feed_service, store.articles.categories, clock)
    articles.on_change(feeds.rebuild_touched)
    engagement = Engagement(store, settings, clock)
    email_renderer = EmailRenderer(template_dirs(settings, "email"))
    editions = Editions(
        store,
        digest_options(settings),
        email_renderer,
        functools.cache(lambda: _dkim_signer(settings)),
        links,
        clock,
        send_empty=settings.digest.send_empty,
        max_age_days=settings.digest.max_age_days,
        tracker=engagement.rewriter,
    )
    mailer = Mailer(
        store.deliveries,
        editions,
        transports,
        sender_options(settings),
        clock,
        LocalDelivery.from_settings(settings),
    )
    subscriptions = Subscriptions(
        store.subscribers,
        lambda: {c.slug for c in store.articles.categories()},
        settings,
        links,
        transports,
        clock,
        ServiceMails(email_renderer),
    )
    health = Health(store, mailer)
    ops = Operations(
        settings, store, health.checks, feed_service, editions, coming_waves=mailer.coming_waves
    )
    articles.on_change(ops.note_change)
    mailer.on_edition(ops.note_change)
    services = Services(
        settings=settings,
        store=store,
        clock=clock,
        links=links,
        articles=articles,
        feeds=feeds,
        editions=editions,
        mailer=mailer,
        subscriptions=subscriptions,
        health=health,
        ops=ops,
        websub=websub,
        inbound=Inbound(settings, store, clock, subscriptions.unsubscribe_subscriber),
        engagement=engagement,
        admin=Admin(store, settings, clock, editions, mailer, engagement),
    )
    return Publisher(services)
