"""Table definitions (SQLAlchemy Core), shared by the repositories and the migrations.

Times are stored as UTC in naive columns through :class:`UTCDateTime` and come back aware,
so SQLite and PostgreSQL behave the same. The uniqueness constraints here are the spine of
the product: one article per guid, one edition per period key, one delivery per
(edition, subscriber).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def stored_utc(moment: datetime | None) -> datetime | None:
    """A time as the ``timestamp`` columns hold it: UTC, without a zone. For values sent
    past SQLAlchemy's types (COPY, JSON documents, arrays) and for :class:`UTCDateTime`."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; attach a time zone first")
        return stored_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime):  # pragma: no cover - drivers return datetimes
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("guid", String(500), nullable=False, unique=True),
    Column("slug", String(300), nullable=False, unique=True),
    Column("url", String(2000), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("authors", Text, nullable=False, default="[]"),
    Column("image_url", String(2000)),
    Column("image_alt", Text),
    Column("published_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("retracted", Boolean, nullable=False, default=False),
    Column("content_hash", String(64), nullable=False),
    # Identity of an article without a guid: the file path relative to the import root
    # (``news/a.md``), or ``file.json#slug`` for an item of a JSON list. NULL for articles
    # from the API or standard input, which are found by guid, URL or slug instead.
    Column("source_key", String(1000)),
    # The article's language (``ur``, ``en-GB``); "" = the site's. Readers' own come first.
    Column("language", String(35), nullable=False, default="", server_default=""),
    Index("ix_articles_published", "published_at"),
    Index("ix_articles_url", "url"),
    Index("ix_articles_retracted", "retracted", "published_at"),  # feeds: newest retraction
    Index("ix_articles_source_key", "source_key", unique=True),
)

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(200), nullable=False, unique=True),
    Column("name", Text, nullable=False),
)

article_categories = Table(
    "article_categories",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "category_id", Integer, ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_article_categories_category", "category_id", "article_id"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False, default="pending"),
    Column("frequency", String(10), nullable=False, default="daily"),
    Column("consent_at", UTCDateTime),
    Column("consent_method", String(20), nullable=False, default=""),
    Column("consent_ip", String(64), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The reader's own choices ("" = the site's, resolved at send time); migration 0017.
    Column("language", String(35), nullable=False, default="", server_default=""),
    Column("timezone", String(64), nullable=False, default="", server_default=""),
    Index("ix_subscribers_status", "status", "frequency"),
)

subscriber_categories = Table(
    "subscriber_categories",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("category_slug", String(200), primary_key=True),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

editions = Table(
    "editions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(100), nullable=False, unique=True),
    Column("frequency", String(10), nullable=False),
    Column("window_start", UTCDateTime),
    Column("window_end", UTCDateTime, nullable=False),
    Column("article_ids", Text, nullable=False, default="[]"),
    Column("status", String(20), nullable=False, default="open"),
    Column("created_at", UTCDateTime, nullable=False),
    # The lifecycle (migration 0012): first claim, last final outcome, the final counts.
    Column("started_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("sent_count", Integer),
    Column("failed_count", Integer),
    Column("suppressed_count", Integer),
    Index("ix_editions_frequency_end", "frequency", "window_end"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    # No foreign keys on PostgreSQL (migration 0022): checking both per row was half of
    # planning a million readers, and only planning writes rows, from rows it reads.
    Column("edition_id", Integer, nullable=False),
    Column("subscriber_id", Integer, nullable=False),
    Column("state", String(12), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("retry_at", UTCDateTime),
    Column("claimed_by", String(100)),
    Column("lease_until", UTCDateTime),
    Column("message_id", String(300)),
    Column("reply", Text),
    Column("variant", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Local delivery: the reader's wave, kept after the row is sent (retry_at is reused
    # for retries), so `digest status` can count each wave's sent and pending rows.
    Column("wave_at", UTCDateTime),
    UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_subscriber"),
    # Claimable rows only, one index per unfinished state (migration 0015): a claim reads
    # them in order and never walks the rows already final.
    *(
        Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))
        for name, columns, where in (
            ("ix_deliveries_pending", ("edition_id", "id"), "state = 'pending'"),
            ("ix_deliveries_deferred", ("retry_at",), "state = 'deferred'"),
            ("ix_deliveries_claimed", ("lease_until",), "state = 'claimed'"),
        )
    ),
    Index("ix_deliveries_edition_state", "edition_id", "state"),
)

mail_events = Table(
    "mail_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("source", String(20), nullable=False),
    Column("email", String(320), nullable=False, default=""),
    Column("subscriber_id", Integer),
    Column("edition_id", Integer),
    Column("status", String(20), nullable=False, default=""),
    Column("diagnostic", Text, nullable=False, default=""),
    Column("message_id", String(300), nullable=False, default=""),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_mail_events_subscriber", "subscriber_id", "received_at"),
    Index("ix_mail_events_edition", "edition_id", "kind"),
)

# Engagement: counts per edition x link, never per reader unless the newsroom chooses it.
edition_links = Table(
    "edition_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("edition_id", Integer, ForeignKey("editions.id"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("human", Integer, nullable=False, default=0),
    Column("automated", Integer, nullable=False, default=0),
    UniqueConstraint("edition_id", "kind", "url", name="uq_edition_links_edition_kind_url"),
)

reader_clicks = Table(
    "reader_clicks",
    metadata,
    Column("link_id", Integer, ForeignKey("edition_links.id"), primary_key=True),
    Column("subscriber_id", Integer, primary_key=True),
    Column("clicks", Integer, nullable=False, default=0),
)

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

paused_editions = Table(
    "paused_editions",
    metadata,
    Column("edition_id", Integer, ForeignKey("editions.id"), primary_key=True),
    Column("paused_at", UTCDateTime, nullable=False),
)
