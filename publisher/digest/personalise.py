"""Per-recipient values, encoded for each place they go (header, text part, HTML part).

This is the per-reader hot path: a few short strings are cleaned, escaped and
quoted-printable encoded, then :meth:`MessageTemplate.fill` joins them with the fixed bytes.
Nothing here renders a template or builds a MIME object.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from email.headerregistry import Address
from email.utils import format_datetime

from publisher.addresses import ascii_domain
from publisher.digest import message as m
from publisher.digest.qp import encode_value
from publisher.exceptions import RenderError
from publisher.text import one_line
from publisher.types import Recipient

MAX_NAME = 64
_HEADER_UNSAFE = frozenset("\r\n\x00<> ")
# RFC 5322 atext and spaces: a display name of these needs no quoting.
_PLAIN_PHRASE = re.compile(
    r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*"
)


def clean_name(name: str) -> str:
    """A display name fit for a header and a greeting: one line, at most 64 characters."""
    return one_line(name, MAX_NAME)


def format_to(name: str, email: str) -> str:
    """The To value (M4): the display name through ``Address``, or encoded when not ASCII."""
    if not _HEADER_UNSAFE.isdisjoint(email):
        raise RenderError(f"recipient address {email!r} cannot go in a header")
    email = ascii_domain(email)
    name = clean_name(name)
    if not name:
        return email
    if "=?" in name:  # would be decoded as an encoded word: encode it to show it as typed
        return f"{m.encoded_words(name)} <{email}>"
    if _PLAIN_PHRASE.fullmatch(name):
        return f"{name} <{email}>"  # what Address gives for a name without specials, faster
    if name.isascii():
        return str(Address(display_name=name, addr_spec=email))
    return f"{m.encoded_words(name)} <{email}>"


def greeting_text(name: str) -> str:
    name = clean_name(name)
    return f"Hello {name}," if name else "Hello,"


def greeting_html(name: str) -> str:
    name = clean_name(name)
    # <bdi> would isolate right-to-left names best, but Gmail and Outlook drop it (caniemail)
    return f'Hello <span dir="auto">{html.escape(name)}</span>,' if name else "Hello,"


def _header_value(value: str, what: str, brackets: bool = False) -> bytes:
    inner = value[1:-1] if brackets and value.startswith("<") and value.endswith(">") else value
    if not inner or not _HEADER_UNSAFE.isdisjoint(inner) or not inner.isascii():
        raise RenderError(f"{what} {value!r} cannot go in a header")
    return value.encode("ascii")


def recipient_values(recipient: Recipient, date: datetime) -> dict[tuple[str, str], bytes]:
    """Every (field, context) value one reader's message needs, encoded."""
    to = format_to(recipient.name, recipient.email).encode("utf-8")
    unsub = recipient.unsubscribe_url
    prefs = recipient.preferences_url
    return {
        (m.TO, m.HEADER): to,
        (m.DATE, m.HEADER): format_datetime(date).encode("ascii"),
        (m.MESSAGE_ID, m.HEADER): _header_value(recipient.message_id, "Message-ID", brackets=True),
        (m.UNSUBSCRIBE_URL, m.HEADER): _header_value(unsub, "unsubscribe URL"),
        (m.UNSUBSCRIBE_MAILTO, m.HEADER): _header_value(
            recipient.unsubscribe_mailto, "unsubscribe mailto"
        ),
        (m.UNSUBSCRIBE_URL, m.TEXT): encode_value(unsub.encode("utf-8")),
        (m.PREFERENCES_URL, m.TEXT): encode_value(prefs.encode("utf-8")),
        (m.GREETING, m.TEXT): encode_value(greeting_text(recipient.name).encode("utf-8")),
        (m.UNSUBSCRIBE_URL, m.HTML): encode_value(html.escape(unsub).encode("utf-8")),
        (m.PREFERENCES_URL, m.HTML): encode_value(html.escape(prefs).encode("utf-8")),
        (m.GREETING, m.HTML): encode_value(greeting_html(recipient.name).encode("utf-8")),
        (m.READER_TAG, m.TEXT): encode_value(recipient.reader_tag.encode("ascii")),
        (m.READER_TAG, m.HTML): encode_value(recipient.reader_tag.encode("ascii")),
    }
