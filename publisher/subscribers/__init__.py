"""Subscriber logic that is not storage: CSV rows in and out, the confirmation e-mail.

Like ``store`` and ``digest`` this package imports only the leaves (types, exceptions,
text, addresses), so it can be tested without a database and reused by the CLI and the web
through :class:`publisher.core.Publisher`.
"""

from publisher.subscribers.csvio import (
    EXPORT_COLUMNS,
    CsvRow,
    RejectedRow,
    SkippedRow,
    export_row,
    parse_categories,
    parse_frequency,
    parse_language,
    parse_mapping,
    parse_timezone,
    read_rows,
)
from publisher.subscribers.message import (
    ConfirmationMail,
    MailBody,
    ServiceMail,
    SettingsLinkMail,
    service_message,
)

__all__ = [
    "EXPORT_COLUMNS",
    "ConfirmationMail",
    "CsvRow",
    "MailBody",
    "RejectedRow",
    "ServiceMail",
    "SettingsLinkMail",
    "SkippedRow",
    "export_row",
    "parse_categories",
    "parse_frequency",
    "parse_language",
    "parse_mapping",
    "parse_timezone",
    "read_rows",
    "service_message",
]
