"""The Publisher: the one place that wires the store, ingestion, feeds, digest and delivery.

The CLI, the web app and the scheduler each hold one Publisher and call its methods; none of
them talks to the store or the feeds directly. Time comes from an injectable clock so tests
(and the scheduler's catch-up logic) can say what "now" is.
"""

from publisher.core.articles import IngestReport
from publisher.core.base import Clock, utc_now
from publisher.core.checks import Finding, check_service, check_store
from publisher.core.digest import DigestPreview
from publisher.core.ops import BackupReport, Operations, restore_store
from publisher.core.publisher import Publisher, make_publisher
from publisher.core.subscribers import SubscribeRequest, SubscriberImportReport

__all__ = [
    "BackupReport",
    "Clock",
    "DigestPreview",
    "Finding",
    "IngestReport",
    "Operations",
    "Publisher",
    "SubscribeRequest",
    "SubscriberImportReport",
    "check_service",
    "check_store",
    "make_publisher",
    "restore_store",
    "utc_now",
]
