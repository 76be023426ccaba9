"""The MIME message of one variant, serialised once, with holes for per-recipient values.

Built once per variant: headers that are the same for every reader (From, Subject, List-Id,
Feedback-ID ...), a ``multipart/alternative`` body with the text part first and the HTML part
last, both quoted-printable (M2, M3). What differs per reader (To, Date, Message-ID, the
unsubscribe and preferences links, the greeting) is left as :class:`~publisher.digest.qp.Slot`
holes; :meth:`MessageTemplate.fill` joins the fixed bytes and the reader's encoded values,
which is all the per-recipient work there is (no template, no inlining, no MIME objects).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from publisher.digest.qp import CRLF, Piece, Slot, encode_text
from publisher.mailheaders import HeaderValue, header_block

# Per-recipient fields and the contexts they appear in.
TO = "to"
DATE = "date"
MESSAGE_ID = "message_id"
UNSUBSCRIBE_URL = "unsubscribe_url"
LIST_UNSUBSCRIBE = "list_unsubscribe"
PREFERENCES_URL = "preferences_url"
GREETING = "greeting"
READER_TAG = "reader_tag"
"""The per-reader suffix of tracked links; empty unless per-reader counting is on."""
BODY_FIELDS = (UNSUBSCRIBE_URL, PREFERENCES_URL, GREETING, READER_TAG)

HEADER = "header"
TEXT = "text"
HTML = "html"


Values = Mapping[tuple[str, str], bytes]
"""One reader's encoded values by (field, context)."""


def _picker(keys: Sequence[tuple[str, str]]) -> Callable[[Values], tuple[bytes, ...]]:
    """values -> the values of ``keys``, in order, as a tuple (one C call per reader)."""
    if len(keys) == 1:
        only = keys[0]
        return lambda values: (values[only],)
    if not keys:
        return lambda values: ()
    return itemgetter(*keys)


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A serialised message: ``chunks`` of fixed bytes around ``slots`` (one fewer)."""

    chunks: tuple[bytes, ...]
    slots: tuple[tuple[str, str], ...]
    header_names: tuple[str, ...]
    dotted: bool = True
    """Whether a fixed chunk may begin a line with a dot (see :meth:`dot_free`)."""
    line_starts: tuple[tuple[str, str], ...] = ()
    """The slots whose value begins a line (the chunk before them ends a line)."""
    # Made once per variant (a reader's message is then one C call and a format):
    _pick: Callable[[Values], tuple[bytes, ...]] = field(init=False, repr=False, compare=False)
    """values -> the value of each slot, in the message's order."""
    _format: bytes = field(init=False, repr=False, compare=False)
    """The chunks with ``%b`` for each slot (``%`` doubled): filled with ``%``, which writes
    the message into one buffer sized once, faster than joining a list of the parts."""
    _pick_dots: Callable[[Values], tuple[bytes, ...]] = field(init=False, repr=False, compare=False)
    _dots: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pick", _picker(self.slots))
        chunks = [chunk.replace(b"%", b"%%") for chunk in self.chunks]
        object.__setattr__(self, "_format", b"%b".join(chunks))
        # Each distinct slot once: those within a line, then those that begin one (with a
        # line break before each, so a dot such a value begins with follows a line break).
        within = [slot for slot in dict.fromkeys(self.slots) if slot not in self.line_starts]
        object.__setattr__(self, "_pick_dots", _picker([*within, *self.line_starts]))
        object.__setattr__(self, "_dots", b"%b" * len(within) + b"\n%b" * len(self.line_starts))

    def dot_free(self, values: Mapping[tuple[str, str], bytes]) -> bool:
        """Whether no line of the filled message starts with a dot.

        SMTP must double such dots (RFC 5321 4.5.2), and searching a 40 kB message for
        them cost as much as the rest of the send. The fixed chunks are searched once per
        variant; per reader only the short values are: a value that begins a line and
        begins with a dot, or a line break followed by a dot inside any value.
        """
        return not self.dotted and b"\n." not in self._dots % self._pick_dots(values)

    def fill(self, values: Mapping[tuple[str, str], bytes]) -> bytes:
        """The message for one reader: fixed bytes and that reader's encoded values, joined."""
        return self._format % self._pick(values)

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
    dotted = any(c[:1] == b"." or b"\n." in c for c in chunks)
    # Each slot once: a reader's value is the same wherever its slot recurs.
    line_starts = tuple(
        dict.fromkeys(
            slot for slot, before in zip(slots, chunks, strict=False) if before[-1:] in (b"", b"\n")
        )
    )
    return MessageTemplate(tuple(chunks), tuple(slots), header_names, dotted, line_starts)


def fixed_headers(headers: Sequence[tuple[str, HeaderValue]]) -> bytes:
    """Headers that are the same for every reader, written by :func:`header_block`."""
    return header_block(headers)


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
        b"\r\nList-Unsubscribe: ",
        Slot(LIST_UNSUBSCRIBE, HEADER),
        b"\r\n",
    ]


def build_template(
    headers: Sequence[tuple[str, HeaderValue]],
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
    # From first, then the reader's own lines (a folded From is several lines: split by field)
    pieces: list[Piece] = [
        fixed_headers(headers[:1]),
        *recipient_headers(),
        fixed_headers(headers[1:]),
    ]
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
