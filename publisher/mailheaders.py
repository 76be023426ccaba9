"""Every header of every outgoing mail, written by one function, and addresses for the wire.

Each mail the publisher sends (digest, test copy, confirmation, settings link, and any mail
added later) gets its header lines from :func:`header_block` (whole lines) or
:func:`header_value` (the value of one line whose bytes are filled in per reader). Values
are typed, and each type has one way to be written:

* ``str`` is *text* (Subject): collapsed to one line, then written as plain folded ASCII or,
  when it holds anything else (non-ASCII, ``=?``, a word too long to fold), as RFC 2047
  encoded words of the whole text. Text is literal: ``=?utf-8?q?...?=`` typed by someone
  shows as those characters, it is never decoded into other headers.
* :class:`Mailbox` (From, To, Reply-To): a display name, literal text as above (a plain
  phrase, a quoted string, or encoded words), and an address through :func:`wire_address`.
* :class:`Token` (Message-ID, Date, fixed values we write ourselves): printable ASCII only.
* :class:`UrlList` (List-Unsubscribe, List-Archive): ``<url>, <url>`` folded one per line.
* :class:`ListId` (List-Id): a phrase and ``<id>``.

Nothing here goes through the email package's header parser, which decodes encoded words
and would re-emit a decoded CR LF raw (the injection this module exists to prevent).

:func:`wire_address` is also the envelope's form of an address (MAIL FROM, RCPT TO): the
domain converted to its A-label with IDNA 2008 and UTS 46 non-transitional processing (so
``straße.de`` stays ``xn--strae-oqa.de`` and never becomes ``strasse.de``), the local part
left exactly as stored (a non-ASCII local part needs SMTPUTF8; see the SMTP transport).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

import idna

from publisher.exceptions import RenderError
from publisher.text import one_line

MAX_NAME = 64
MAX_LOCAL_OCTETS = 64
MAX_WORD_BYTES = 45  # base64 of 45 bytes + "=?utf-8?b??=" is 72 characters
FOLD_AT = 78
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext
# RFC 5322 atext and single spaces: a display name of these needs no quoting.
_ATOM = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
_PLAIN_PHRASE = re.compile(f"{_ATOM}(?: {_ATOM})*")
_PRINTABLE = re.compile(r"[ -~]*")
_TOKEN = re.compile(r"[!-~](?:[ -~]*[!-~])?")
_URL = re.compile(r"[!-~]+")
# Characters that end or split an address in a header or an SMTP command.
_ADDRESS_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f<>()\[\]\\,;:\"\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """An address with an optional display name (literal text, whatever it holds)."""

    address: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Token:
    """A structured value we make ourselves (Message-ID, Date, a fixed word): ASCII only."""

    value: str


@dataclass(frozen=True, slots=True)
class UrlList:
    """``<url>, <url>``: List-Unsubscribe (web and mailto), List-Archive, List-Help."""

    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListId:
    """RFC 2919 List-Id: a description (literal text) and the list's id (``kind.host``)."""

    description: str
    id: str


HeaderValue = str | Mailbox | Token | UrlList | ListId


def wire_address(address: str) -> str:
    """The address as header and envelope carry it: IDNA 2008 A-label domain, local part as is.

    RenderError when it cannot be written (empty, controls, brackets, a local part over 64
    octets, a domain IDNA 2008 refuses).
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or _ADDRESS_UNSAFE.search(address):
        raise RenderError(f"address {address!r} cannot go in a mail")
    if len(local.encode("utf-8")) > MAX_LOCAL_OCTETS:
        raise RenderError(f"address {address!r}: the local part is over 64 octets")
    if domain.isascii():
        return f"{local}@{domain}"
    try:
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as exc:
        raise RenderError(f"address {address!r}: domain is not valid IDNA 2008: {exc}") from exc
    return f"{local}@{ascii_domain}"


def encoded_words(text: str) -> str:
    """RFC 2047 encoded words of at most 75 characters, folded one per line.

    Most names fit one word (45 bytes of UTF-8). Longer text is cut after a space, and
    the space stays inside the word before the cut: readers drop the folding whitespace
    between encoded words, so the text's own space must be encoded to survive.
    """
    words: list[str] = []
    chunk = ""
    for char in text:
        if len((chunk + char).encode("utf-8")) > MAX_WORD_BYTES:
            cut = chunk.rfind(" ") + 1 if " " in chunk[1:] else len(chunk)
            words.append(chunk[:cut])
            chunk = chunk[cut:]
        chunk += char
    words.append(chunk)
    encoded = (
        "=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?=" for w in words
    )
    return "\r\n ".join(encoded)


def _plain(text: str) -> bool:
    """Text that may be written as it is: printable ASCII, no ``=?``, words that fold."""
    return (
        _PRINTABLE.fullmatch(text) is not None
        and "=?" not in text
        and all(len(word) <= FOLD_AT - 2 for word in text.split(" "))
    )


def _fold(text: str, used: int) -> str:
    """Fold plain text at spaces so lines stay within 78 characters (``used`` taken)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if line and used + len(line) + 1 + len(word) > FOLD_AT:
            lines.append(line)
            line, used = word, 1
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def text_value(text: str, used: int = 0) -> str:
    """Unstructured text (Subject): one line, then plain and folded, or encoded words."""
    cleaned = one_line(text)
    return _fold(cleaned, used) if _plain(cleaned) else encoded_words(cleaned)


def _phrase(name: str) -> str:
    """A display name as written: atoms, a quoted string, or encoded words (never decoded)."""
    if "=?" not in name and _PLAIN_PHRASE.fullmatch(name):
        return name
    if _plain(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return encoded_words(name)


def mailbox_value(box: Mailbox) -> str:
    """``Name <local@domain>``: the name is literal text, the address in its wire form."""
    return mailbox_text(box.address, box.name)


def mailbox_text(address: str, name: str = "") -> str:
    """:func:`mailbox_value` of an address and a name (no :class:`Mailbox` made per reader)."""
    wire = wire_address(address)
    name = one_line(name, MAX_NAME)
    return f"{_phrase(name)} <{wire}>" if name else wire


def _token(value: str, what: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise RenderError(f"{what} {value!r} cannot go in a header")
    return value


def _url(url: str) -> str:
    if not _URL.fullmatch(url) or "<" in url or ">" in url:
        raise RenderError(f"URL {url!r} cannot go in a header")
    return f"<{url}>"


def token_value(value: str) -> str:
    """:func:`header_value` of ``Token(value)`` (no object made per reader)."""
    return _token(value, "value")


def url_list_value(urls: Iterable[str]) -> str:
    """:func:`header_value` of ``UrlList(urls)``: one URL per folded line."""
    return ",\r\n ".join([_url(url) for url in urls])


def header_value(value: HeaderValue, used: int = 0) -> str:
    """The written value of one header (``used``: characters already on its first line)."""
    if isinstance(value, str):
        return text_value(value, used)
    if isinstance(value, Mailbox):
        return mailbox_value(value)
    if isinstance(value, Token):
        return token_value(value.value)
    if isinstance(value, UrlList):
        return url_list_value(value.urls)
    description = one_line(value.description)
    id_part = f"<{_token(value.id, 'list id')}>"
    return f"{_phrase(description)} {id_part}" if description else id_part


def header_line(name: str, value: HeaderValue) -> bytes:
    """One header field, folded, ending in CRLF (UTF-8 only in a non-ASCII local part)."""
    if not _FIELD_NAME.fullmatch(name):
        raise RenderError(f"{name!r} is not a header name")
    return f"{name}: {header_value(value, len(name) + 2)}\r\n".encode()


def header_block(fields: Iterable[tuple[str, HeaderValue]]) -> bytes:
    """Header fields in the given order: the one way every mail's headers are written."""
    return b"".join(header_line(name, value) for name, value in fields)
