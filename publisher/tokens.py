"""Signed, purpose-bound tokens for the links in mail and on pages.

A token names one subscriber for one purpose (confirm, unsubscribe, preferences) and is
signed with ``PUBLISHER_SECRET_KEY`` (HMAC-SHA256 under a key derived per purpose; former
keys in ``PUBLISHER_SECRET_KEY_FALLBACKS`` still verify), so a token made for one purpose
is refused for another and nobody can forge one. The payload also carries a short hash of
the address: a token for a deleted subscriber whose id was reused by someone else is
refused too. Tokens stay short because they travel in headers.

Two formats are read; one is written:

- the compact format (written): base64url of version (1 byte), issued (4, seconds since
  the epoch), address tag (3), subscriber id (4, or 8 under version 2), the consent
  generation (0 or 4) and 12 bytes of HMAC-SHA256 over all that: 32 characters, one
  HMAC to make, so two per reader cost little in a million-reader send;
- the earlier itsdangerous format (``payload.timestamp.signature``, recognised by its
  dots), still read, so links in digests already mailed keep working.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from publisher.exceptions import TokenError
from publisher.text import N_


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"


# How long a link works, in seconds. Unsubscribe links in old digests must keep working.
MAX_AGE: dict[Purpose, int | None] = {
    Purpose.CONFIRM: 7 * 24 * 3600,
    Purpose.UNSUBSCRIBE: None,
    Purpose.PREFERENCES: 180 * 24 * 3600,
}

VERSION = 1  # the subscriber id in 4 bytes
WIDE = 2  # the subscriber id in 8 bytes (ids of 2**32 and more)
MAC_BYTES = 12  # 96 bits of HMAC-SHA256: forging one takes ~2**96 tries against the site
_HEAD = struct.Struct(">BI3s")  # version, issued (seconds since the epoch), address tag


def address_tag(email: str) -> str:
    """Six hex characters of the address's hash: binds a token to the address it was for."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:6]


def fallback_keys(text: str) -> tuple[str, ...]:
    """The former keys of ``secret_key_fallbacks`` (comma separated; blanks dropped)."""
    return tuple(key.strip() for key in text.split(",") if key.strip())


def consent_generation(unsubscribed_at: datetime | None) -> str:
    """Which consent round a confirmation link belongs to: "" before any unsubscribe, else a
    hash of the last unsubscribe's time. A link from an earlier round is refused, so an old
    confirmation link stays dead after an unsubscribe, also after a later re-subscribe."""
    if unsubscribed_at is None:
        return ""
    return hashlib.sha256(unsubscribed_at.isoformat().encode()).hexdigest()[:8]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _purpose_key(secret_key: str, purpose: Purpose) -> bytes:
    """One key per (secret, purpose): a token of one purpose never verifies as another."""
    return hmac.digest(secret_key.encode("utf-8"), b"publisher.token." + purpose.encode(), "sha256")


class TokenSigner:
    """Makes and reads tokens; one instance per secret key (and its former keys).

    Key rotation, as Django's ``SECRET_KEY_FALLBACKS``: tokens are signed with
    ``secret_key`` and accepted when any of ``secret_key`` and ``fallbacks`` verifies
    them, so links already mailed keep working while the old key is listed. Make one per
    process (``core.Links`` does): the per-purpose keys are derived here, once.
    """

    def __init__(self, secret_key: str, fallbacks: Sequence[str] = ()) -> None:
        if not secret_key:
            raise TokenError("no secret key configured (run `publisher init`)", "secret_key")
        keys = [secret_key, *(key for key in fallbacks if key and key != secret_key)]
        self._keys = {p: [_purpose_key(k, p) for k in keys] for p in Purpose}
        # The earlier format: itsdangerous signs with the last key, verifies with any.
        legacy = [*reversed(keys[1:]), keys[0]]
        self._legacy = {
            p: URLSafeTimedSerializer(legacy, salt=f"publisher.{p.value}") for p in Purpose
        }

    def make(self, purpose: Purpose, subscriber_id: int, email: str, generation: str = "") -> str:
        """A token; ``generation`` (confirm links) names the consent round it belongs to."""
        return self.make_each((purpose,), subscriber_id, email, generation)[0]

    def make_each(
        self, purposes: Sequence[Purpose], subscriber_id: int, email: str, generation: str = ""
    ) -> list[str]:
        """One token per purpose for one reader (the address hashed once: a digest's links)."""
        if not 0 <= subscriber_id < 2**64:
            raise TokenError("a token names a subscriber id >= 0", "token")
        wide = subscriber_id >= 2**32
        tag = bytes.fromhex(address_tag(email))
        body = _HEAD.pack(WIDE if wide else VERSION, int(time.time()), tag)
        body += subscriber_id.to_bytes(8 if wide else 4, "big")
        if generation:
            body += bytes.fromhex(generation)
        return [
            _b64(body + hmac.digest(self._keys[p][0], body, "sha256")[:MAC_BYTES]) for p in purposes
        ]

    def read(self, purpose: Purpose, token: str) -> tuple[int, str]:
        """Return (subscriber id, address tag); raise TokenError for anything wrong."""
        subscriber_id, tag, _generation = self.read_claims(purpose, token)
        return subscriber_id, tag

    def read_claims(self, purpose: Purpose, token: str) -> tuple[int, str, str]:
        """(subscriber id, address tag, generation or ""); TokenError for anything wrong."""
        if "." in token:
            return self._read_legacy(purpose, token)
        try:
            raw = _unb64(token)
        except (binascii.Error, ValueError) as exc:
            raise TokenError("this link is not valid", "token") from exc
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if len(body) < _HEAD.size + 4 or not any(
            hmac.compare_digest(mac, hmac.digest(key, body, "sha256")[:MAC_BYTES])
            for key in self._keys[purpose]
        ):
            raise TokenError("this link is not valid", "token")
        version, issued, tag = _HEAD.unpack_from(body)
        width = {VERSION: 4, WIDE: 8}.get(version, 0)
        rest = body[_HEAD.size + width :]
        if not width or len(body) < _HEAD.size + width or len(rest) not in (0, 4):
            raise TokenError("this link is not valid", "token")
        subscriber_id = int.from_bytes(body[_HEAD.size : _HEAD.size + width], "big")
        limit = MAX_AGE[purpose]
        if limit is not None and time.time() - issued > limit:
            raise TokenError("this link has expired", "token")
        return subscriber_id, tag.hex(), rest.hex()

    def _read_legacy(self, purpose: Purpose, token: str) -> tuple[int, str, str]:
        try:
            payload = self._legacy[purpose].loads(token, max_age=MAX_AGE[purpose])
        except SignatureExpired as exc:
            raise TokenError(N_("this link has expired"), "token") from exc
        except BadSignature as exc:
            raise TokenError(N_("this link is not valid"), "token") from exc
        if (
            not isinstance(payload, list)
            or len(payload) not in (2, 3)
            or not isinstance(payload[0], int)
            or not all(isinstance(part, str) for part in payload[1:])
        ):
            raise TokenError(N_("this link is not valid"), "token")
        return payload[0], payload[1], payload[2] if len(payload) == 3 else ""

    def check_address(self, tag: str, email: str) -> None:
        """Refuse a token whose address tag does not match the subscriber's address now."""
        if tag != address_tag(email):
            raise TokenError(N_("this link is not valid"), "token")


# --- VERP: the envelope sender names the message it bounced from ------------------------------

VERP_KINDS = {"d": "digest", "c": "confirm", "s": "settings"}
"""One letter per kind of mail in a VERP token: an edition of the digest or a service mail."""
_VERP_SALT = b"publisher.verp\x00"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def base36(number: int) -> str:
    """``number`` in base 36, lower case: short ids in tokens that travel in URLs and addresses."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def short_signature(key: bytes, salt: bytes, body: str) -> str:
    """12 lower-case base32 letters (60 bits) of HMAC-SHA256 over ``salt + body``."""
    mac = hmac.new(key, salt + body.encode("ascii"), "sha256")
    bits = int.from_bytes(mac.digest()[:8], "big") >> 4
    return "".join(_B32[(bits >> shift) & 31] for shift in range(55, -1, -5))


def _verp_signature(secret_key: str, body: str) -> str:
    return short_signature(secret_key.encode("utf-8"), _VERP_SALT, body)


def verp_token(secret_key: str, kind: str, edition_id: int, subscriber_id: int) -> str:
    """``d2k.1f.<12 letters>``: kind, edition and subscriber ids in base 36, then an HMAC.

    ``kind`` is a name in VERP_KINDS.
    Short (it travels in the local part of an address, at most 64 octets), lower case (some
    relays fold the case of local parts) and signed, so a forged bounce cannot unsubscribe
    anyone. Edition 0 is a mail that belongs to no edition (confirmation, settings link).
    """
    letter = next((k for k, name in VERP_KINDS.items() if name == kind), "")
    if not letter or edition_id < 0 or subscriber_id < 0:
        raise TokenError(f"cannot make a VERP token for {kind!r}", "token")
    body = f"{letter}{base36(edition_id)}.{base36(subscriber_id)}"
    return f"{body}.{_verp_signature(secret_key, body)}"


def read_verp_token(
    secret_key: str, token: str, fallbacks: Sequence[str] = ()
) -> tuple[str, int, int]:
    """(kind, edition id, subscriber id) of a token; TokenError when it is not ours.

    ``fallbacks``: former keys (``secret_key_fallbacks``), so bounces of mail sent before
    a key rotation are still recognised.
    """
    parts = token.strip().lower().split(".")
    ok = len(parts) == 3 and len(parts[0]) >= 2 and parts[0][0] in VERP_KINDS and parts[1]
    body = ".".join(parts[:2])
    keys = [secret_key, *fallbacks]
    if not ok or not any(
        hmac.compare_digest(parts[2], _verp_signature(key, body)) for key in keys if key
    ):
        raise TokenError("this VERP token is not valid", "token")
    try:
        return VERP_KINDS[parts[0][0]], int(parts[0][1:], 36), int(parts[1], 36)
    except ValueError as exc:
        raise TokenError("this VERP token is not valid", "token") from exc


def verp_address(base: str, token: str) -> str:
    """``bounces@news.example.org`` + token -> ``bounces+TOKEN@news.example.org``."""
    local, _, domain = base.rpartition("@")
    return f"{local}+{token}@{domain}"
