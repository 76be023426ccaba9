"""Publisher: a self-hosted newsletter and syndication publisher.

The public API is loaded lazily so that importing a leaf module (``publisher.types``) does
not pull in the store, the web framework or the scheduler.

    from publisher import Publisher, load_settings
    publisher = Publisher(load_settings())
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Publisher": "publisher.core",
    "make_publisher": "publisher.core",
    "IngestReport": "publisher.core",
    "Settings": "publisher.config",
    "load_settings": "publisher.config",
    "PublisherError": "publisher.exceptions",
    "ConfigError": "publisher.exceptions",
    "IngestError": "publisher.exceptions",
    "StoreError": "publisher.exceptions",
    "NotFound": "publisher.exceptions",
    "Article": "publisher.types",
    "ArticleInput": "publisher.types",
    "Category": "publisher.types",
    "Subscriber": "publisher.types",
    "Edition": "publisher.types",
    "Delivery": "publisher.types",
    "SendReport": "publisher.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'publisher' has no attribute {name!r}")
