"""What every ingest parser needs to know about the site: where it lives and its time zone.

Kept in its own module so each format parser can take the options without importing the
package ``__init__`` (which imports the parsers).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

FORMATS = ("markdown", "html", "json", "text")
"""The source formats ingest understands, as names for ``fmt`` arguments."""


@dataclass(frozen=True)
class IngestOptions:
    """Site-wide settings for turning sources into articles.

    ``site_url`` is the base for every relative URL found in a source (links, images,
    canonical URLs); ``timezone`` is the zone a date without an offset is read in.
    """

    site_url: str
    timezone: ZoneInfo
    max_file_bytes: int = 5_000_000
    summary_length: int = 300
