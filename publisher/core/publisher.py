"""The Publisher: the parts put together, and the one place that builds them."""

from __future__ import annotations

from collections.abc import Callable

from publisher.config import Settings
from publisher.core.articles import ArticlesMixin
from publisher.core.base import Clock, utc_now
from publisher.core.delivery import DeliveryMixin
from publisher.core.feeds import FeedsMixin
from publisher.core.health import HealthMixin
from publisher.core.ops import Operations
from publisher.core.subscribers import SubscribersMixin
from publisher.delivery import MemoryTransport, Transport
from publisher.digest import DkimSigner, EmailRenderer, RenderedEdition
from publisher.feeds import FeedService, WebSubNotifier
from publisher.store import Store, open_store
from publisher.types import UpsertResult


class Publisher(ArticlesMixin, FeedsMixin, SubscribersMixin, DeliveryMixin, HealthMixin):
    """Everything the product does, as methods over settings, a store and a clock."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        clock: Clock = utc_now,
        create: bool = False,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store or open_store(settings.database_url, settings.site.url, create=create)
        self._change_listeners: list[Callable[[list[UpsertResult]], None]] = []
        self._health_checks: dict[str, Callable[[], dict[str, object]]] = {}
        self._memory: MemoryTransport | None = None
        self.websub = WebSubNotifier(
            settings.feeds.hubs,
            attempts=settings.feeds.hub_attempts,
            base_delay=settings.feeds.hub_retry_seconds,
        )
        self.feeds = FeedService(
            self.feed_site,
            self.store.feed_items,
            settings.path(settings.feeds.dir),
            items=settings.feeds.items,
            notify=self.websub.notify,
            archives=settings.feeds.archives,
        )
        self.on_articles_changed(self._rebuild_touched_feeds)
        self.ops = Operations(settings, self.store, self._health_checks, self.feeds)
        self._rendered: dict[str, RenderedEdition] = {}
        self._renderer: EmailRenderer | None = None
        self._signer: DkimSigner | None = None
        self._given_transport: Transport | None = None


def make_publisher(
    settings: Settings,
    *,
    store: Store | None = None,
    transport: Transport | None = None,
    clock: Clock | None = None,
    create: bool = False,
) -> Publisher:
    """The one place that builds a Publisher; tests pass their own store, transport, clock.

    ``transport`` replaces the configured one (SMTP or the outbox) for every sender lane, so
    a test hands in a :class:`~publisher.delivery.MemoryTransport` instead of configuring one.
    """
    built = Publisher(settings, store=store, clock=clock or utc_now, create=create)
    built._given_transport = transport
    return built
