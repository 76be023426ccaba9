"""The base every part of the Publisher builds on: settings, store, clock, transports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from publisher.config import Settings
from publisher.delivery import (
    MemoryTransport,
    OutboxTransport,
    SmtpOptions,
    SmtpTransport,
    Transport,
)
from publisher.digest import DkimSigner, EmailRenderer, RenderedEdition
from publisher.feeds import FeedService, WebSubNotifier
from publisher.store import Store
from publisher.types import UpsertResult

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class PublisherBase:
    """What every part of the Publisher shares: settings, the store, the clock, transports.

    The parts (articles, feeds, digest, subscribers, delivery, health) are mixins over this
    base; :class:`publisher.core.Publisher` puts them together and owns ``__init__``.
    """

    settings: Settings
    clock: Clock
    store: Store
    websub: WebSubNotifier
    feeds: FeedService
    _change_listeners: list[Callable[[list[UpsertResult]], None]]
    _health_checks: dict[str, Callable[[], dict[str, object]]]
    _memory: MemoryTransport | None
    _rendered: dict[str, RenderedEdition]
    _renderer: EmailRenderer | None
    _signer: DkimSigner | None
    _given_transport: Transport | None

    def close(self) -> None:
        self.websub.close()
        self.store.close()

    def make_transport(self) -> Transport:
        """The configured transport: one SMTP connection, the outbox folder, or memory."""
        if self._given_transport is not None:
            return self._given_transport
        kind = self.settings.mail.transport
        if kind == "memory":
            if self._memory is None:
                self._memory = MemoryTransport()
            return self._memory
        if kind == "smtp":
            return SmtpTransport(self.smtp_options())
        return OutboxTransport(self.settings.path(self.settings.mail.outbox_dir))

    def smtp_options(self) -> SmtpOptions:
        smtp = self.settings.smtp
        return SmtpOptions(
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=str(smtp.password),
            timeout=smtp.timeout,
        )
