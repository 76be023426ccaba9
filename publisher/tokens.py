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
  HMAC to make, so two per reader cost little in a million-reader send (the keys' HMAC
  pads are hashed once per signer, see :class:`KeyedMac`);
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
from collections.abc import Callable, Sequence
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
_NARROW = struct.Struct(">BI3sI")  # the head and a 4-byte subscriber id (version 1)
_WIDE = struct.Struct(">BI3sQ")  # the head and an 8-byte subscriber id (version 2)
_SHA256 = hashlib.sha256()
_BLOCK = 64  # SHA-256's block size: HMAC pads the key to it (RFC 2104)
_IPAD = bytes.maketrans(bytes(range(256)), bytes(b ^ 0x36 for b in range(256)))
_OPAD = bytes.maketrans(bytes(range(256)), bytes(b ^ 0x5C for b in range(256)))


class KeyedMac:
    """HMAC-SHA256 under one key, and optionally a fixed start of every message, set up once.

    HMAC (RFC 2104) is SHA-256 over ``key XOR opad`` and the SHA-256 of ``key XOR ipad``
    followed by the message. ``hmac.digest`` hashes both padded keys again for every
    message; here the two hash states are made once and copied per message, which halves
    the cost of the short messages tokens sign. A ``prefix`` the messages all start with
    (a salt, an edition's part of a VERP token) is hashed into the inner state once too.
    The result is HMAC-SHA256 of ``prefix + message``, byte for byte (tests compare it with
    ``hmac.digest``).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes, prefix: bytes = b"") -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._inner.update(prefix)
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


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
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


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
        self._macs = {p: KeyedMac(self._keys[p][0]) for p in Purpose}  # what signs
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
        # The address tag's 3 bytes: what address_tag() gives as hex.
        address = _SHA256.copy()  # cheaper than a new hash object from OpenSSL
        address.update(email.strip().lower().encode("utf-8"))
        tag = address.digest()[:3]
        if subscriber_id < 2**32:
            body = _NARROW.pack(VERSION, int(time.time()), tag, subscriber_id)
        else:
            body = _WIDE.pack(WIDE, int(time.time()), tag, subscriber_id)
        if generation:
            body += bytes.fromhex(generation)
        tokens = []
        for purpose in purposes:
            mac = self._macs[purpose].digest(body)
            raw = binascii.b2a_base64(body + mac[:MAC_BYTES], newline=False)
            tokens.append(raw.translate(_URLSAFE).rstrip(b"=").decode())
        return tokens

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


_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_B36_PAIRS = tuple(a + b for a in _B36 for b in _B36)  # 0 .. 36**2 - 1 as two digits


def base36(number: int) -> str:
    """``number`` in base 36, lower case: short ids in tokens that travel in URLs and addresses."""
    if number < 36:
        return _B36[number]
    text = ""
    while number >= 36:  # two digits per step
        number, rest = divmod(number, 1296)
        text = _B36_PAIRS[rest] + text
    return (_B36[number] + text) if number else text


_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B32_PAIRS = tuple(a + b for a in _B32 for b in _B32)  # 10 bits -> two letters


def _letters(mac: bytes) -> str:
    """The first 60 bits of ``mac`` as 12 lower-case base32 letters (RFC 4648's alphabet,
    lower case: ``a-z2-7``), two letters per table lookup."""
    bits = int.from_bytes(mac[:8], "big") >> 4
    pairs = _B32_PAIRS
    return (
        pairs[bits >> 50]
        + pairs[(bits >> 40) & 1023]
        + pairs[(bits >> 30) & 1023]
        + pairs[(bits >> 20) & 1023]
        + pairs[(bits >> 10) & 1023]
        + pairs[bits & 1023]
    )


def short_signature(key: bytes, salt: bytes, body: str) -> str:
    """12 lower-case base32 letters (60 bits) of HMAC-SHA256 over ``salt + body``."""
    return _letters(hmac.digest(key, salt + body.encode("ascii"), "sha256"))


class ShortSigner:
    """:func:`short_signature` for many bodies that start alike (one edition's readers).

    The key, the salt and the common ``head`` of the bodies are hashed once; each body then
    costs the HMAC of its own few bytes. Gives exactly what :func:`short_signature` gives
    for ``head + tail``.
    """

    __slots__ = ("_mac",)

    def __init__(self, key: bytes, salt: bytes, head: str = "") -> None:
        self._mac = KeyedMac(key, salt + head.encode("ascii"))

    def sign(self, tail: str) -> str:
        return _letters(self._mac.digest(tail.encode("ascii")))


def _verp_signature(secret_key: str, body: str) -> str:
    return short_signature(secret_key.encode("utf-8"), _VERP_SALT, body)


def verp_tokens(secret_key: str, kind: str, edition_id: int) -> Callable[[int], str]:
    """subscriber id -> :func:`verp_token` for one kind and edition (set up once per send)."""
    letter = next((k for k, name in VERP_KINDS.items() if name == kind), "")
    if not letter or edition_id < 0:
        raise TokenError(f"cannot make a VERP token for {kind!r}", "token")
    head = f"{letter}{base36(edition_id)}."
    signer = ShortSigner(secret_key.encode("utf-8"), _VERP_SALT, head)

    def make(subscriber_id: int) -> str:
        if subscriber_id < 0:
            raise TokenError(f"cannot make a VERP token for {kind!r}", "token")
        tail = base36(subscriber_id)
        return f"{head}{tail}.{signer.sign(tail)}"

    return make


def verp_token(secret_key: str, kind: str, edition_id: int, subscriber_id: int) -> str:
    """``d2k.1f.<12 letters>``: kind, edition and subscriber ids in base 36, then an HMAC.

    ``kind`` is a name in VERP_KINDS.
    Short (it travels in the local part of an address, at most 64 octets), lower case (some
    relays fold the case of local parts) and signed, so a forged bounce cannot unsubscribe
    anyone. Edition 0 is a mail that belongs to no edition (confirmation, settings link).
    """
    return verp_tokens(secret_key, kind, edition_id)(subscriber_id)


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
