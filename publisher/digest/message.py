"""The MIME message of one variant, serialised once, with holes for per-recipient values.

Built once per variant: headers that are the same for every reader (From, Subject, List-Id,
Feedback-ID ...), a ``multipart/alternative`` body with the text part first and the HTML part
last, both quoted-printable (M2, M3). What differs per reader (To, Date, Message-ID, the
unsubscribe and preferences links, the greeting) is left as :class:`~publisher.digest.qp.Slot`
holes; :meth:`MessageTemplate.fill` joins the fixed bytes and the reader's encoded values,
which is all the per-recipient work there is (no template, no inlining, no MIME objects).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

from publisher.digest.qp import CRLF, Piece, Slot, encode_text

# Per-recipient fields and the contexts they appear in.
TO = "to"
DATE = "date"
MESSAGE_ID = "message_id"
UNSUBSCRIBE_URL = "unsubscribe_url"
UNSUBSCRIBE_MAILTO = "unsubscribe_mailto"
PREFERENCES_URL = "preferences_url"
GREETING = "greeting"
READER_TAG = "reader_tag"
"""The per-reader suffix of tracked links; empty unless per-reader counting is on."""
BODY_FIELDS = (UNSUBSCRIBE_URL, PREFERENCES_URL, GREETING, READER_TAG)

HEADER = "header"
TEXT = "text"
HTML = "html"


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A serialised message: ``chunks`` of fixed bytes around ``slots`` (one fewer)."""

    chunks: tuple[bytes, ...]
    slots: tuple[tuple[str, str], ...]
    header_names: tuple[str, ...]

    def fill(self, values: Mapping[tuple[str, str], bytes]) -> bytes:
        """The message for one reader: fixed bytes and that reader's encoded values, joined."""
        parts = [self.chunks[0]]
        for slot, chunk in zip(self.slots, self.chunks[1:], strict=True):
            parts.append(values[slot])
            parts.append(chunk)
        return b"".join(parts)

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)


def _join(pieces: Sequence[Piece], header_names: tuple[str, ...]) -> MessageTemplate:
    chunks: list[bytes] = []
    slots: list[tuple[str, str]] = []
    current = bytearray()
    for piece in pieces:
        if isinstance(piece, Slot):
            chunks.append(bytes(current))
            current.clear()
            slots.append(piece.key)
        else:
            current += piece
    chunks.append(bytes(current))
    return MessageTemplate(tuple(chunks), tuple(slots), header_names)


MAX_WORD_BYTES = 45  # base64 of 45 bytes + "=?utf-8?b??=" is 72 characters


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


def _literal(value: object) -> str | None:
    """The value encoded by hand when it contains ``=?`` (else None: the email package).

    The email package writes ASCII text such as ``=?utf-8?b?QmNjOiB4QHkueg==?=`` as it is,
    and every reader then decodes it: an article title would show as other text in the
    Subject (M4). Encoding the whole value keeps what readers see equal to what was written.
    """
    if isinstance(value, str) and "=?" in value:
        return encoded_words(value)
    if isinstance(value, Address) and "=?" in value.display_name:
        return f"{encoded_words(value.display_name)} <{value.addr_spec}>"
    return None


def fixed_headers(headers: Sequence[tuple[str, object]]) -> bytes:
    """Serialise headers that are the same for every reader (RFC 2047, folded, CRLF).

    The email package encodes non-ASCII (Subject, display names) and folds long lines;
    values are single lines already (titles and names go through ``text.one_line``).
    """
    data = bytearray()
    for name, value in headers:
        literal = _literal(value)
        if literal is not None:
            data += f"{name}: {literal}\r\n".encode("ascii")
            continue
        message = EmailMessage(policy=SMTP)
        message[name] = value
        line = message.as_bytes()
        data += line[: -len(CRLF)] if line.endswith(CRLF + CRLF) else line
    return bytes(data)


def boundary_for(seed: str) -> str:
    """A boundary that QP text can never contain ("=_" is not valid quoted-printable)."""
    return "=_pub_" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]


def recipient_headers() -> list[Piece]:
    """The header lines that differ per reader, as holes (values are prepared per reader)."""
    return [
        b"To: ",
        Slot(TO, HEADER),
        b"\r\nDate: ",
        Slot(DATE, HEADER),
        b"\r\nMessage-ID: ",
        Slot(MESSAGE_ID, HEADER),
        b"\r\nList-Unsubscribe: <",
        Slot(UNSUBSCRIBE_URL, HEADER),
        b">,\r\n <",
        Slot(UNSUBSCRIBE_MAILTO, HEADER),
        b">\r\n",
    ]


def build_template(
    headers: Sequence[tuple[str, object]],
    text: str,
    html: str,
    placeholders: Mapping[str, str],
    seed: str,
) -> MessageTemplate:
    """The whole message of one variant.

    ``headers`` are the fixed headers in order (From first); ``placeholders`` maps each
    placeholder string found in ``text`` and ``html`` to its field name.
    """
    boundary = boundary_for(seed + text)
    head = fixed_headers(headers)
    first, _, rest = head.partition(CRLF)
    pieces: list[Piece] = [first + CRLF, *recipient_headers(), rest]
    pieces.append(
        b"MIME-Version: 1.0\r\n"
        + f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode()
        + b"This is a multi-part message in MIME format.\r\n"
    )
    for subtype, body, context in (("plain", text, TEXT), ("html", html, HTML)):
        pieces.append(
            f"\r\n--{boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode()
        )
        slots = {token: Slot(field, context) for token, field in placeholders.items()}
        encoded = encode_text(body, slots)
        if encoded and isinstance(encoded[-1], bytes) and encoded[-1].endswith(CRLF):
            encoded[-1] = encoded[-1][: -len(CRLF)]  # the delimiter's CRLF belongs to it
        pieces.extend(encoded)
    pieces.append(f"\r\n--{boundary}--\r\n".encode())
    names = (
        *(name for name, _ in headers),
        "To",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "MIME-Version",
        "Content-Type",
    )
    return _join(pieces, names)
