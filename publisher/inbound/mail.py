"""Reading raw inbound mail: parse without failing, headers as text, our addresses, keys.

Inbound mail is whatever the world sends: broken MIME, bad charsets, no Message-ID. Nothing
here raises on such mail; the worst case is a message classified as unrecognised.
"""

from __future__ import annotations

import email
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

from publisher.exceptions import TokenError
from publisher.tokens import Purpose, TokenSigner, read_verp_token

_TOKEN_ADDRESS = re.compile(r"([A-Za-z0-9._-]+)\+([a-z0-9]+\.[a-z0-9]+\.[a-z2-7]{12})@", re.I)
_SUBJECT_TOKEN = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]{16,}")
ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc", "Return-Path")


def parse(raw: bytes) -> Message:
    """The message as ``email.message.Message`` (compat32, as flufl.bounce expects)."""
    return email.message_from_bytes(raw)


def header_text(message: Message, name: str) -> str:
    """A header decoded to one line of text ('' when missing or undecodable)."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        text = str(value)
    return " ".join(text.split())


def part_text(part: Message) -> str:
    """A text part's content decoded (bad charsets replaced, never an error)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        inner = part.get_payload()
        return inner if isinstance(inner, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def message_key(message: Message, raw: bytes) -> str:
    """What makes a mail the same mail: its Message-ID, else a hash of what a relay keeps.

    A hash over the whole bytes would differ between two copies of one mail (each relay adds
    Received and Delivered-To lines), so it covers From, Date, Subject and the body only.
    """
    message_id = header_text(message, "Message-ID").strip("<> ")
    if message_id:
        return "mid:" + message_id.lower()
    _, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    seed = "\x00".join(header_text(message, h) for h in ("From", "Date", "Subject"))
    return "sha:" + hashlib.sha256(seed.encode("utf-8") + b"\x00" + body).hexdigest()[:40]


def event_key(base: str, *parts: object) -> str:
    """One event's key within a mail: the mail's key and what tells its events apart."""
    tail = "\x00".join(str(p) for p in parts).lower()
    digest = hashlib.sha256(f"{base}\x00{tail}".encode()).hexdigest()[:32]
    return f"{base[:160]}#{digest}"


@dataclass(frozen=True, slots=True)
class Token:
    """A VERP token found in an address: what mail it names, and which address it was."""

    local: str
    kind: str
    edition_id: int
    subscriber_id: int


def find_tokens(
    texts: Sequence[str], secret_key: str, fallbacks: Sequence[str] = ()
) -> Iterator[Token]:
    """Every valid VERP token in these texts (addresses, headers); forged ones are skipped."""
    for text in texts:
        for match in _TOKEN_ADDRESS.finditer(text):
            try:
                kind, edition_id, subscriber_id = read_verp_token(
                    secret_key, match.group(2), fallbacks
                )
            except TokenError:
                continue
            yield Token(match.group(1).lower(), kind, edition_id, subscriber_id)


def addresses_of(message: Message, names: Sequence[str] = ADDRESS_HEADERS) -> list[str]:
    """Every address in these headers, as written."""
    values = [str(v) for name in names for v in (message.get_all(name) or [])]
    return [addr for _, addr in getaddresses(values) if addr]


def subject_unsubscribe(
    message: Message, secret_key: str, fallbacks: Sequence[str] = ()
) -> int | None:
    """The subscriber a web unsubscribe token in the Subject names (the plain mailto)."""
    signer = TokenSigner(secret_key, fallbacks)
    for candidate in _SUBJECT_TOKEN.findall(header_text(message, "Subject")):
        try:
            return signer.read(Purpose.UNSUBSCRIBE, candidate)[0]
        except TokenError:
            continue
    return None


def walk(message: Message) -> Iterator[Message]:
    """Every part, including the headers of attached messages, without failing on junk."""
    try:
        yield from message.walk()
    except (TypeError, AttributeError):  # pragma: no cover - payloads the email package mangles
        yield message
