"""The core: a thin :class:`Publisher` facade over plain services, built by ``make_publisher``.

The edges (CLI, web, scheduler) import this package, ``publisher.config`` and the leaf
modules only; what they need of the domain packages (names of formats, token purposes, a
few value types) is re-exported here so that the edges never import a domain package.
"""

from publisher.addresses import normalise_address
from publisher.core.articles import ImportChoices, IngestReport
from publisher.core.checks import Finding, check_store
from publisher.core.clock import Clock, utc_now
from publisher.core.editions import DigestPreview
from publisher.core.inbound import ProcessReport
from publisher.core.ops import BackupReport, Operations, restore_store
from publisher.core.publisher import Publisher, Services
from publisher.core.services import make_publisher
from publisher.core.subscriptions import SubscribeRequest, SubscriberImportReport
from publisher.core.templates import template_dirs
from publisher.delivery import MemoryTransport, Tally, Transport
from publisher.digest import is_period_key
from publisher.feeds import FORMATS as FEED_FORMATS
from publisher.feeds import BuildReport, FeedRef, Site
from publisher.i18n import (
    LANGUAGES,
    language_names,
    long_date,
    long_datetime,
    number,
    translations,
)
from publisher.ingest import FORMATS as ARTICLE_FORMATS
from publisher.store import LeaderLock
from publisher.subscribers import (
    parse_categories,
    parse_frequency,
    parse_language,
    parse_mapping,
    parse_timezone,
)
from publisher.tokens import Purpose

__all__ = [
    "ARTICLE_FORMATS",
    "FEED_FORMATS",
    "LANGUAGES",
    "BackupReport",
    "BuildReport",
    "Clock",
    "DigestPreview",
    "FeedRef",
    "Finding",
    "ImportChoices",
    "IngestReport",
    "LeaderLock",
    "MemoryTransport",
    "Operations",
    "ProcessReport",
    "Publisher",
    "Purpose",
    "Services",
    "Site",
    "SubscribeRequest",
    "SubscriberImportReport",
    "Tally",
    "Transport",
    "check_store",
    "is_period_key",
    "language_names",
    "long_date",
    "long_datetime",
    "make_publisher",
    "normalise_address",
    "number",
    "parse_categories",
    "parse_frequency",
    "parse_language",
    "parse_mapping",
    "parse_timezone",
    "restore_store",
    "template_dirs",
    "translations",
    "utc_now",
]
