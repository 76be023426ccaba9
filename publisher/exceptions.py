"""The one exception hierarchy of the publisher.

Every error the package raises on purpose derives from :class:`PublisherError`, so the edges
(the CLI, the web app, the scheduler) can catch one type and turn it into a one-line message,
an HTTP status or a logged retry. Causes are chained with ``raise ... from``; ids travel as
attributes, never only inside the message.

    PublisherError
    ├── ConfigError          invalid settings (all problems at once, in ``problems``)
    ├── OutputError          a file the user asked for cannot be written (``path``)
    ├── IngestError          a bad article source (``path``, ``line``)
    ├── StoreError           the database failed or refused (an outage: worth a retry)
    ├── NotFound             no such article, subscriber or edition (``kind``, ``key``);
    │                        a missing row is an answer, not an outage, so not a StoreError
    ├── FeedError            a feed could not be built or written
    ├── RenderError          a template failed (``template``, ``line``)
    ├── SubscriberError      an address or subscriber request is invalid (``field``)
    │   └── TokenError       a signed link is forged, expired or for another purpose
    ├── DeliveryError        a message could not be handed over
    │   ├── TransientDeliveryError   retry later (4xx, timeouts, dropped connections)
    │   │   └── ServerUnreachable    no connection at all: pause the batch, not each row
    │   └── PermanentDeliveryError   give up (5xx); ``hard_bounce`` says suppress
    └── InboundError         inbound mail or a webhook cannot be read, fetched or received
        └── WebhookAuthError a provider webhook failed its authentication (``provider``)
"""

from __future__ import annotations

from pathlib import Path

from publisher.text import ReaderText


class PublisherError(Exception):
    """Base of every error the publisher raises on purpose."""


class ConfigError(PublisherError):
    """One or more settings are invalid; ``problems`` lists each, naming setting and source."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class OutputError(PublisherError):
    """A file the user asked for could not be written (``path``)."""

    def __init__(self, message: str, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class IngestError(PublisherError):
    """An article source cannot be turned into an article.

    ``str()`` gives ``PATH[:LINE]: what is wrong`` so the CLI prints it as it is.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.reason = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(message)

    def __reduce__(self) -> tuple[type[IngestError], tuple[str, str | None, int | None]]:
        """Keep path and line when the error crosses a process boundary (parallel import)."""
        return (type(self), (self.reason, self.path, self.line))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.reason}"


class StoreError(PublisherError):
    """The store could not do what was asked (driver errors are chained as the cause)."""


class NotFound(PublisherError):
    """No row of ``kind`` matches ``key``."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} matches {key!r}")


class FeedError(PublisherError):
    """A feed could not be generated or written."""


class RenderError(PublisherError):
    """A template failed to render; names the template and line."""

    def __init__(self, message: str, template: str | None = None, line: int | None = None):
        self.template = template
        self.line = line
        where = template or "<template>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class SubscriberError(PublisherError):
    """A subscriber request is invalid; ``field`` names what was wrong.

    Readers see these on the subscribe and preferences pages, so the message is a catalog
    entry (``N_("... %(value)s ...")``) with its ``values`` apart: ``str()`` is the English
    text (the CLI prints it) and :attr:`text` translates in a page's language. ``detail``
    (a library's own words, English only) goes in the English text only.
    """

    def __init__(
        self, message: str, field: str | None = None, detail: str = "", **values: object
    ) -> None:
        self.field = field
        self.text = ReaderText(message, **values)
        super().__init__(f"{self.text}: {detail}" if detail else str(self.text))


class TokenError(SubscriberError):
    """A signed token is invalid, expired, or made for another purpose."""


class DeliveryError(PublisherError):
    """A message could not be delivered."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class TransientDeliveryError(DeliveryError):
    """Try again later: 4xx replies, timeouts, dropped connections."""


class ServerUnreachable(TransientDeliveryError):
    """The server cannot be reached at all (refused, timed out, TLS or greeting failed).

    Every other message would fail the same way, so the sender pauses instead of charging
    each row of its batch a try.
    """


class PermanentDeliveryError(DeliveryError):
    """Do not try again: 5xx replies. ``hard_bounce`` means the address itself is bad."""

    def __init__(self, message: str, code: int | None = None, hard_bounce: bool = False):
        self.hard_bounce = hard_bounce
        super().__init__(message, code)


class InboundError(PublisherError):
    """Inbound mail could not be read, fetched (IMAP) or received (LMTP)."""


class WebhookAuthError(InboundError):
    """A provider's webhook call failed its authentication (signature, password, host)."""

    def __init__(self, provider: str, message: str) -> None:
        self.provider = provider
        super().__init__(f"{provider} webhook: {message}")


class AdminError(PublisherError):
    """A dashboard request or editor account is refused; ``field`` names what was wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)
