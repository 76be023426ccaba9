"""Plain, frozen data passed between the parts of the publisher.

These are leaves: they import nothing from the package, so every module can use them and
pure decisions (planning an edition, choosing which rows are due) work on them alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Category:
    """A section of the site; ``slug`` is its stable identity, ``name`` what readers see."""

    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """An article as a source describes it, before the store gives it an id.

    Optional fields are derived on the way in (slug, summary) or kept from the stored copy
    (guid) when missing.
    """

    title: str
    content_html: str
    published_at: datetime
    summary: str = ""
    updated_at: datetime | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    image_url: str | None = None
    image_alt: str | None = None
    slug: str | None = None
    guid: str | None = None
    url: str | None = None
    source: str = ""
    source_key: str | None = None
    """The article's identity when it has no guid: its file path relative to the import
    root (``None`` for the API and standard input)."""
    warnings: tuple[str, ...] = ()
    """What ingestion changed or doubted but accepted (flattened nesting, a far date)."""
    language: str = ""
    """The language it is written in (``ur``, ``en-GB``); "" = the site's."""


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article. ``guid`` never changes once assigned; times are aware UTC."""

    id: int
    guid: str
    slug: str
    url: str
    title: str
    summary: str
    content_html: str
    published_at: datetime
    updated_at: datetime
    authors: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    image_url: str | None = None
    image_alt: str | None = None
    source: str = ""
    retracted: bool = False
    language: str = ""  # "" = the site's language


class UpsertOutcome(StrEnum):
    """What storing an article did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class UpsertResult:
    article: Article
    outcome: UpsertOutcome
    touched_categories: tuple[str, ...] = ()
    """Slugs of categories the article is in now or was in before (their feeds change)."""


class SubscriberStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A reader's address and choices. ``categories`` empty means every category."""

    id: int
    email: str
    name: str = ""
    status: SubscriberStatus = SubscriberStatus.PENDING
    frequency: Frequency = Frequency.DAILY
    categories: tuple[str, ...] = ()
    consent_at: datetime | None = None
    consent_method: str = ""
    consent_ip: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    language: str = ""  # "" = the site's language
    timezone: str = ""  # "" = the site's time zone (IANA name otherwise)


@dataclass(frozen=True, slots=True)
class Edition:
    """One digest for one period key (``daily/2026-11-27``); the key is unique.

    ``window_start``/``window_end`` are the cutoffs: the edition holds what was published
    after the previous edition's end, up to its own end. ``article_ids`` is stored so a
    rerun renders the same digest. ``status`` is an :class:`EditionState` value;
    ``started_at`` is its first claim, ``sent_at`` the moment its last ledger row became
    final, and ``final_counts`` the sent/failed/suppressed rows at that moment.
    """

    id: int
    key: str
    frequency: Frequency
    window_start: datetime | None
    window_end: datetime
    article_ids: tuple[int, ...]
    created_at: datetime
    status: str = "open"
    started_at: datetime | None = None
    sent_at: datetime | None = None
    final_counts: dict[str, int] | None = field(default=None, hash=False)


class EditionState(StrEnum):
    """An edition's life: open -> sending -> sent | partial; skipped when it has no articles.

    The product moves it, never a person: the first claim of one of its ledger rows (with
    local delivery, the writing of its held rows at the close) makes it ``sending``; the
    outcome that leaves none of its rows unfinished makes it ``sent`` (no row failed) or
    ``partial`` (some failed). The archive lists it from ``sending`` on.
    """

    OPEN = "open"
    SENDING = "sending"
    SENT = "sent"
    PARTIAL = "partial"
    SKIPPED = "skipped"


SENT_EDITION_STATES = frozenset({EditionState.SENT, EditionState.PARTIAL})
# Editions the web archive lists: from their close on, while their waves go out too
# (local delivery holds most readers' copies for hours after the edition closed).
ARCHIVED_EDITION_STATES = SENT_EDITION_STATES | {EditionState.SENDING}


class DeliveryState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


FINAL_DELIVERY_STATES = frozenset(
    {DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.SUPPRESSED}
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One ledger row: one edition for one subscriber, unique per pair."""

    id: int
    edition_id: int
    subscriber_id: int
    state: DeliveryState
    attempts: int = 0
    retry_at: datetime | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    message_id: str | None = None
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class SendReport:
    """Counts at the end of a send, for the CLI summary and the health endpoint."""

    edition_key: str
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    suppressed: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Recipient:
    """The per-recipient values substituted into a message rendered once per variant."""

    subscriber_id: int
    email: str
    name: str
    message_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    preferences_url: str
    return_path: str = ""
    """The envelope sender of this reader's copy (a VERP address); empty: the From address."""
    reader_tag: str = ""
    """Appended to tracked links when per-reader counting is on (engagement.per_reader)."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message ready for a transport: the envelope and the exact bytes to send."""

    sender: str
    recipient: str
    message_id: str
    data: bytes
    edition_key: str = ""
    dot_free: bool = False
    """True when the builder knows no line of ``data`` starts with a dot, so the SMTP
    transport need not search 40 kB per message for dots to double (RFC 5321 4.5.2)."""


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A ledger row a worker holds under lease, with what is needed to build its message.

    ``deliverable`` is false when the subscriber stopped being active or was suppressed
    after the row was made: the sender then records the row as suppressed, sending nothing.
    """

    id: int
    edition_id: int
    edition_key: str
    subscriber_id: int
    email: str
    name: str
    attempts: int = 0
    variant: str | None = None
    deliverable: bool = True
    categories: tuple[str, ...] = ()
    """The subscriber's chosen categories now (empty: all), which pick the content variant."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one try did to one ledger row; the ledger records these in batches.

    ``bounce`` marks a hard bounce: the address goes on the suppression list and the
    subscriber is marked bounced, in the same transaction as the row.
    """

    delivery_id: int
    state: DeliveryState
    attempts: int
    message_id: str | None = None
    reply: str | None = None
    retry_at: datetime | None = None
    bounce: bool = False
    edition_id: int | None = None  # lets the ledger settle the edition without a lookup


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """A worker holding live claims: how many rows, until when, and whether it is alive.

    ``alive`` is False when the holder is provably gone (its process or database session
    ended), True when it provably lives, None when that cannot be known (then only its
    lease tells).
    """

    worker: str
    rows: int
    until: datetime
    alive: bool | None = None


@dataclass(frozen=True, slots=True)
class EditionDeliveryStatus:
    """Ledger counts of one edition, by state (every state present, zero when none),
    with the edition's own state and the moments it started and finished sending."""

    edition_id: int
    edition_key: str
    counts: dict[str, int]
    next_retry_at: datetime | None = None
    state: str = "open"
    started_at: datetime | None = None
    sent_at: datetime | None = None

    @property
    def rate(self) -> float:
        """Messages settled per second between the first claim and the last outcome."""
        if self.started_at is None or self.sent_at is None:
            return 0.0
        seconds = (self.sent_at - self.started_at).total_seconds()
        settled = self.total - self.unfinished
        return settled / seconds if seconds > 0 else 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def unfinished(self) -> int:
        return sum(n for s, n in self.counts.items() if s not in FINAL_DELIVERY_STATES)


@dataclass(frozen=True, slots=True)
class DeliveryWave:
    """One wave of a local-delivery edition: the readers whose copy may go out at ``at``.

    ``counts`` are the wave's ledger rows by state (every state present); ``zones`` the
    readers' time zone names by how many readers each ("" for the site's), when known.
    """

    at: datetime
    counts: dict[str, int]
    zones: dict[str, int] = field(default_factory=dict)
    edition_key: str = ""

    @property
    def readers(self) -> int:
        return sum(self.counts.values())

    @property
    def sent(self) -> int:
        return self.counts.get("sent", 0)

    @property
    def pending(self) -> int:
        """Rows not final yet (pending, claimed or deferred)."""
        return sum(n for s, n in self.counts.items() if s not in FINAL_DELIVERY_STATES)


class EventKind(StrEnum):
    """What a piece of inbound mail (or a provider's report) says happened to a message."""

    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    AUTO_REPLY = "auto_reply"
    UNRECOGNISED = "unrecognised"


@dataclass(frozen=True, slots=True)
class MailEvent:
    """One event read from inbound mail or a webhook, before and after it is stored.

    ``key`` makes it unique: the same mail (or webhook call) arriving twice yields the same
    keys, and the store keeps the first. ``subscriber_id``/``edition_id`` come from our VERP
    token when the mail carries one; ``email`` is the recipient the report names.
    """

    key: str
    kind: EventKind
    source: str
    received_at: datetime
    email: str = ""
    subscriber_id: int | None = None
    edition_id: int | None = None
    status: str = ""
    diagnostic: str = ""
    message_id: str = ""
    id: int = 0


@dataclass(frozen=True, slots=True)
class EditionLink:
    """One tracked link of an edition and its counts (kind ``open`` is the open image)."""

    id: int
    edition_id: int
    url: str
    kind: str
    title: str = ""
    human: int = 0
    automated: int = 0


@dataclass(frozen=True, slots=True)
class AdminUser:
    """An editor who may sign in to the dashboard; the hash is argon2id."""

    id: int
    email: str
    password_hash: str
