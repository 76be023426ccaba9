"""Which transport a message goes to: the one a caller gave, else the configured one."""

from __future__ import annotations

from publisher.config import Settings
from publisher.delivery import (
    OutboxTransport,
    SmtpOptions,
    SmtpTransport,
    Transport,
    TransportFactory,
)


def smtp_options(settings: Settings) -> SmtpOptions:
    smtp = settings.smtp
    return SmtpOptions(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        username=smtp.username,
        password=str(smtp.password),
        timeout=smtp.timeout,
    )


def transport_factory(settings: Settings, given: Transport | None = None) -> TransportFactory:
    """A factory of transports, one per sender lane or service mail.

    ``given`` (a test's :class:`~publisher.delivery.MemoryTransport`, an embedding
    application's own transport) is handed out every time instead of the configured one; it
    must then be safe to use from several threads.
    """
    if given is not None:
        return lambda: given
    if settings.mail.transport == "smtp":
        options = smtp_options(settings)
        return lambda: SmtpTransport(options)
    outbox = settings.path(settings.mail.outbox_dir)
    return lambda: OutboxTransport(outbox)
