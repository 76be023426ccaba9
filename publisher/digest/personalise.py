"""Per-recipient values, encoded for each place they go (header, text part, HTML part).

This is the per-reader hot path: a few short strings are cleaned, escaped and
quoted-printable encoded, then :meth:`MessageTemplate.fill` joins them with the fixed bytes.
Nothing here renders a template or builds a MIME object.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from publisher.digest import message as m
from publisher.digest.qp import encode_value
from publisher.exceptions import RenderError
from publisher.i18n import translations
from publisher.mailheaders import (
    MAX_NAME,
    Token,
    header_value,
    mailbox_text,
    token_value,
    url_list_value,
)
from publisher.text import isolate, one_line, text_direction
from publisher.types import Recipient


def clean_name(name: str) -> str:
    """A display name fit for a header and a greeting: one line, at most 64 characters."""
    return one_line(name, MAX_NAME)


def format_to(name: str, email: str) -> str:
    """The To value (M4), written by the one header writer (the name as literal text)."""
    try:
        return mailbox_text(email, name)
    except RenderError as exc:
        raise RenderError(f"recipient address {email!r} cannot go in a header: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Greeting:
    """The greeting's words in one language; each reader's name goes in at send time.

    The name is a name, in whatever script the reader typed it: isolated from the
    sentence around it (a ``dir="auto"`` span in HTML, Unicode FSI/PDI in text when it
    runs against the language's direction).
    """

    plain: str = "Hello,"
    named: str = "Hello %(name)s,"
    direction: str = "ltr"
    # The words around the name, split once (a reader's greeting is then one join).
    _text_parts: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _html_parts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text_parts = tuple((self.named % {"name": "\0"}).split("\0"))
        object.__setattr__(self, "_text_parts", text_parts)
        object.__setattr__(self, "_html_parts", tuple(html.escape(self.named).split("%(name)s")))

    @classmethod
    def of(cls, language: str) -> Greeting:
        t = translations(language)
        return cls(t.gettext("Hello,"), t.gettext("Hello %(name)s,"), text_direction(language))

    def text(self, name: str) -> str:
        return self.clean_text(clean_name(name))

    def html(self, name: str) -> str:
        return self.clean_html(clean_name(name))

    def clean_text(self, name: str) -> str:
        """:meth:`text` of a name already through :func:`clean_name`."""
        return isolate(name, self.direction).join(self._text_parts) if name else self.plain

    def clean_html(self, name: str) -> str:
        """:meth:`html` of a name already through :func:`clean_name`."""
        if not name:
            return html.escape(self.plain)
        # <bdi> would isolate best, but Gmail and Outlook drop it (caniemail)
        return f'<span dir="auto">{html.escape(name)}</span>'.join(self._html_parts)


ENGLISH = Greeting()


# The keys of a reader's values, made once (a dict with these keys is made per reader).
TO_HEADER = (m.TO, m.HEADER)
DATE_HEADER = (m.DATE, m.HEADER)
MESSAGE_ID_HEADER = (m.MESSAGE_ID, m.HEADER)
LIST_UNSUBSCRIBE_HEADER = (m.LIST_UNSUBSCRIBE, m.HEADER)
UNSUBSCRIBE_TEXT = (m.UNSUBSCRIBE_URL, m.TEXT)
UNSUBSCRIBE_HTML = (m.UNSUBSCRIBE_URL, m.HTML)
PREFERENCES_TEXT = (m.PREFERENCES_URL, m.TEXT)
PREFERENCES_HTML = (m.PREFERENCES_URL, m.HTML)
GREETING_TEXT = (m.GREETING, m.TEXT)
GREETING_HTML = (m.GREETING, m.HTML)
READER_TAG_TEXT = (m.READER_TAG, m.TEXT)
READER_TAG_HTML = (m.READER_TAG, m.HTML)

_HTML_SPECIAL = b"&<>\"'"  # what html.escape changes


class _DateCache:
    """The Date value of the last second: a send stamps many messages in the same second,
    and formatting a date costs more than the rest of a reader's headers."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[tuple[object, ...], bytes] = ((), b"")

    def __call__(self, date: datetime) -> bytes:
        # What the formatted value depends on, read without calling the time zone.
        key: tuple[object, ...] = (date.second, date.minute, date.hour, date.day, date.month)
        key += (date.year, date.fold, date.tzinfo)
        last = self._last
        if last[0] != key:  # one tuple swapped whole: safe for the sender's threads
            value = header_value(Token(format_datetime(date.replace(microsecond=0))))
            last = self._last = (key, value.encode("ascii"))
        return last[1]


_date_header = _DateCache()


def _url_values(url: str) -> tuple[bytes, bytes]:
    """A link encoded for the text part and for the HTML part (the same bytes when HTML
    escaping changes nothing, as for our token URLs)."""
    raw = url.encode("utf-8")
    text = encode_value(raw)
    if len(raw.translate(None, _HTML_SPECIAL)) == len(raw):
        return text, text
    return text, encode_value(html.escape(url).encode("utf-8"))


def recipient_values(
    recipient: Recipient, date: datetime, greeting: Greeting = ENGLISH
) -> dict[tuple[str, str], bytes]:
    """Every (field, context) value one reader's message needs, encoded."""
    name = clean_name(recipient.name)
    unsub = recipient.unsubscribe_url
    unsub_text, unsub_html = _url_values(unsub)
    prefs_text, prefs_html = _url_values(recipient.preferences_url)
    tag = recipient.reader_tag
    tag_value = encode_value(tag.encode("ascii")) if tag else b""
    return {
        TO_HEADER: format_to(name, recipient.email).encode("utf-8"),
        DATE_HEADER: _date_header(date),
        MESSAGE_ID_HEADER: token_value(recipient.message_id).encode("ascii"),
        LIST_UNSUBSCRIBE_HEADER: url_list_value((unsub, recipient.unsubscribe_mailto)).encode(),
        UNSUBSCRIBE_TEXT: unsub_text,
        PREFERENCES_TEXT: prefs_text,
        GREETING_TEXT: encode_value(greeting.clean_text(name).encode("utf-8")),
        UNSUBSCRIBE_HTML: unsub_html,
        PREFERENCES_HTML: prefs_html,
        GREETING_HTML: encode_value(greeting.clean_html(name).encode("utf-8")),
        READER_TAG_TEXT: tag_value,
        READER_TAG_HTML: tag_value,
    }
