"""The ``publisher`` command line: every action by hand.

Errors from the package (``PublisherError``) become one line on standard error and exit
code 1; nothing below this module prints tracebacks at the user. Each command group lives
in its own module and registers itself on :data:`main`.
"""

from __future__ import annotations

from publisher.cli import (  # noqa: F401  (register commands)
    admin_cmd,
    articles,
    backup,
    config_check,
    config_cmd,
    digest,
    feeds,
    inbound,
    report,
    schedule_cmd,
    sending,
    serve,
    setup,
    subscribers,
)
from publisher.cli.app import main

__all__ = ["main"]
