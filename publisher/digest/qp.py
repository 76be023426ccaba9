"""Quoted-printable that keeps per-recipient placeholders whole.

The standard encoders wrap lines at 76 characters wherever they fall, which can cut a
placeholder in two, and a value substituted later would then break the line limits. Here a
placeholder always starts a line of its own (a soft line break before it) and is followed by
a soft or hard line break; the value put in its place is itself encoded and wrapped into
lines of at most 76 characters (:func:`encode_value`), so every line stays within RFC 2045's
76 and RFC 5322's 998 whatever the value's length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

MAX_LINE = 76  # RFC 2045: encoded lines at most 76 characters, the soft-break "=" included
CRLF = b"\r\n"
SOFT = b"=\r\n"

# One token per byte: printable ASCII except "=" stays, everything else is =XX. Spaces and
# tabs stay too, except at the end of a line (handled by the caller).
_TOKENS: tuple[bytes, ...] = tuple(
    bytes([b]) if (33 <= b <= 126 and b != 61) or b in (9, 32) else f"={b:02X}".encode("ascii")
    for b in range(256)
)
_VALUE_TOKENS: tuple[bytes, ...] = tuple(
    t if b not in (9, 32) else f"={b:02X}".encode("ascii") for b, t in enumerate(_TOKENS)
)

# A line starting with "." is encoded: a lone "." ends the SMTP DATA block on naive relays.
_DOT = b"=2E"


class Slot:
    """A per-recipient hole in an encoded part: ``field`` in ``context`` (text, html, header)."""

    __slots__ = ("context", "field")

    def __init__(self, field: str, context: str) -> None:
        self.field = field
        self.context = context

    @property
    def key(self) -> tuple[str, str]:
        return (self.field, self.context)

    def __repr__(self) -> str:
        return f"Slot({self.field!r}, {self.context!r})"


Piece = bytes | Slot


def _tokens(data: bytes, at_line_end: bool) -> list[bytes]:
    tokens = [_TOKENS[b] for b in data]
    if at_line_end and tokens and tokens[-1] in (b" ", b"\t"):
        tokens[-1] = _VALUE_TOKENS[data[-1]]
    return tokens


def _pack(tokens: Iterable[bytes], out: list[Piece], line: bytearray) -> None:
    for token in tokens:
        if len(line) + len(token) > MAX_LINE - 1:
            out.append(bytes(line) + SOFT)
            line.clear()
        line += _DOT if token == b"." and not line else token


def encode_line(segments: Sequence[str | Slot], charset: str, out: list[Piece]) -> None:
    """Encode one logical line (text and slots) into ``out``, ending it with a hard break."""
    line = bytearray()
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if isinstance(segment, Slot):
            if line:
                out.append(bytes(line) + SOFT)
                line.clear()
            out.append(segment)
            out.append(SOFT if index < last else CRLF)
            continue
        _pack(_tokens(segment.encode(charset), index == last), out, line)
    if line or not segments or not isinstance(segments[-1], Slot):
        out.append(bytes(line) + CRLF)


def encode_text(text: str, slots: dict[str, Slot], charset: str = "utf-8") -> list[Piece]:
    """Encode a whole part; occurrences of each key of ``slots`` become that slot."""
    out: list[Piece] = []
    for raw_line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        encode_line(split_slots(raw_line, slots), charset, out)
    return out


def split_slots(line: str, slots: dict[str, Slot]) -> list[str | Slot]:
    """Split a line into text and the slots whose placeholders occur in it."""
    segments: list[str | Slot] = [line]
    for token, slot in slots.items():
        expanded: list[str | Slot] = []
        for segment in segments:
            if isinstance(segment, Slot) or token not in segment:
                expanded.append(segment)
                continue
            parts = segment.split(token)
            for i, part in enumerate(parts):
                if i:
                    expanded.append(slot)
                if part:
                    expanded.append(part)
        segments = expanded
    return segments


# Bytes that never need encoding in a value (printable ASCII except "=", no spaces).
_PLAIN = bytes(b for b in range(33, 127) if b != 61)


def encode_value(value: bytes) -> bytes:
    """A value for a slot: every byte encoded as needed, wrapped in lines of at most 76."""
    rest = value.translate(None, _PLAIN)
    if not rest:  # the common case (URLs, tokens): as it is, or sliced into lines
        if len(value) < MAX_LINE and value[:1] != b".":
            return value
        step = MAX_LINE - 1
        chunks = [value[i : i + step] for i in range(0, len(value), step)] or [b""]
        if not any(chunk.startswith(b".") for chunk in chunks):
            return SOFT.join(chunks)
    if not rest.strip(b" ="):  # ASCII with spaces and "=" (greetings, names): replaces
        encoded = value.replace(b"=", b"=3D").replace(b" ", b"=20")
    else:
        encoded = b"".join([_VALUE_TOKENS[b] for b in value])
    if len(encoded) < MAX_LINE and not encoded.startswith(b"."):
        return encoded  # short values (greetings): one line, no wrapping to decide
    lines: list[bytes] = []
    line = bytearray()
    for b in value:
        token = _VALUE_TOKENS[b]
        if len(line) + len(token) > MAX_LINE - 1:
            lines.append(bytes(line))
            line.clear()
        line += _DOT if token == b"." and not line else token
    lines.append(bytes(line))
    return SOFT.join(lines)
