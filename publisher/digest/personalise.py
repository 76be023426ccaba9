"""Per-recipient values, encoded for each place they go (header, text part, HTML part).

This is the per-reader hot path: a few short strings are cleaned, escaped and
quoted-printable encoded, then :meth:`MessageTemplate.fill` joins them with the fixed bytes.
Nothing here renders a template or builds a MIME object.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from publisher.digest import message as m
from publisher.digest.qp import encode_value
from publisher.exceptions import RenderError
from publisher.i18n import translations
from publisher.mailheaders import MAX_NAME, Mailbox, Token, UrlList, header_value, mailbox_value
from publisher.text import isolate, one_line, text_direction
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

    @classmethod
    def of(cls, language: str) -> Greeting:
        t = translations(language)
        return cls(t.gettext("Hello,"), t.gettext("Hello %(name)s,"), text_direction(language))

    def text(self, name: str) -> str:
        name = clean_name(name)
        return self.named % {"name": isolate(name, self.direction)} if name else self.plain

    def html(self, name: str) -> str:
        name = clean_name(name)
        if not name:
            return html.escape(self.plain)
        # <bdi> would isolate best, but Gmail and Outlook drop it (caniemail)
        span = f'<span dir="auto">{html.escape(name)}</span>'
        return html.escape(self.named).replace("%(name)s", span)


ENGLISH = Greeting()


@functools.lru_cache(maxsize=8)
def _date_header(date: datetime) -> bytes:
    """The Date value; a send stamps many messages in the same second, formatted once."""
    return header_value(Token(format_datetime(date))).encode("ascii")


def recipient_values(
    recipient: Recipient, date: datetime, greeting: Greeting = ENGLISH
) -> dict[tuple[str, str], bytes]:
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
        (m.GREETING, m.TEXT): encode_value(greeting.text(recipient.name).encode("utf-8")),
        (m.UNSUBSCRIBE_URL, m.HTML): encode_value(html.escape(unsub).encode("utf-8")),
        (m.PREFERENCES_URL, m.HTML): encode_value(html.escape(prefs).encode("utf-8")),
        (m.GREETING, m.HTML): encode_value(greeting.html(recipient.name).encode("utf-8")),
        (m.READER_TAG, m.TEXT): encode_value(recipient.reader_tag.encode("ascii")),
        (m.READER_TAG, m.HTML): encode_value(recipient.reader_tag.encode("ascii")),
    }
