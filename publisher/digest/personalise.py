"""Per-recipient values, encoded for each place they go (header, text part, HTML part).

This is the per-reader hot path: a few short strings are cleaned, escaped and
quoted-printable encoded, then :meth:`MessageTemplate.fill` joins them with the fixed bytes.
Nothing here renders a template or builds a MIME object.
"""

from __future__ import annotations

import functools
import html
from datetime import datetime
from email.utils import format_datetime

from publisher.digest import message as m
from publisher.digest.qp import encode_value
from publisher.exceptions import RenderError
from publisher.mailheaders import MAX_NAME, Mailbox, Token, UrlList, header_value, mailbox_value
from publisher.text import one_line
from publisher.types import Recipient


def clean_name(name: str) -> str:
    """A display name fit for a header and a greeting: one line, at most 64 characters."""
    return one_line(name, MAX_NAME)


def format_to(name: str, email: str) -> str:
    """The To value (M4), written by the one header writer (the name as literal text)."""
    try:
        return mailbox_value(Mailbox(email, name))
    except RenderError as exc:
        raise RenderError(f"recipient address {email!r} cannot go in a header: {exc}") from exc


def greeting_text(name: str) -> str:
    name = clean_name(name)
    return f"Hello {name}," if name else "Hello,"


def greeting_html(name: str) -> str:
    name = clean_name(name)
    # <bdi> would isolate right-to-left names best, but Gmail and Outlook drop it (caniemail)
    return f'Hello <span dir="auto">{html.escape(name)}</span>,' if name else "Hello,"


@functools.lru_cache(maxsize=8)
def _date_header(date: datetime) -> bytes:
    """The Date value; a send stamps many messages in the same second, formatted once."""
    return header_value(Token(format_datetime(date))).encode("ascii")


def recipient_values(recipient: Recipient, date: datetime) -> dict[tuple[str, str], bytes]:
    """Every (field, context) value one reader's message needs, encoded."""
    to = format_to(recipient.name, recipient.email).encode("utf-8")
    unsub = recipient.unsubscribe_url
    prefs = recipient.preferences_url
    return {
        (m.TO, m.HEADER): to,
        (m.DATE, m.HEADER): _date_header(date.replace(microsecond=0)),
        (m.MESSAGE_ID, m.HEADER): header_value(Token(recipient.message_id)).encode("ascii"),
        (m.LIST_UNSUBSCRIBE, m.HEADER): header_value(
            UrlList((unsub, recipient.unsubscribe_mailto))
        ).encode("ascii"),
        (m.UNSUBSCRIBE_URL, m.TEXT): encode_value(unsub.encode("utf-8")),
        (m.PREFERENCES_URL, m.TEXT): encode_value(prefs.encode("utf-8")),
        (m.GREETING, m.TEXT): encode_value(greeting_text(recipient.name).encode("utf-8")),
        (m.UNSUBSCRIBE_URL, m.HTML): encode_value(html.escape(unsub).encode("utf-8")),
        (m.PREFERENCES_URL, m.HTML): encode_value(html.escape(prefs).encode("utf-8")),
        (m.GREETING, m.HTML): encode_value(greeting_html(recipient.name).encode("utf-8")),
        (m.READER_TAG, m.TEXT): encode_value(recipient.reader_tag.encode("ascii")),
        (m.READER_TAG, m.HTML): encode_value(recipient.reader_tag.encode("ascii")),
    }
