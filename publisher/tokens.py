"""Signed, purpose-bound tokens for the links in mail and on pages.

A token names one subscriber for one purpose (confirm, unsubscribe, preferences) and is
signed with ``PUBLISHER_SECRET_KEY`` (itsdangerous, HMAC-SHA256 with a salt per purpose;
former keys in ``PUBLISHER_SECRET_KEY_FALLBACKS`` still verify), so
a token made for one purpose is refused for another and nobody can forge one. The payload
also carries a short hash of the address: a token for a deleted subscriber whose id was
reused by someone else is refused too. Tokens stay short because they travel in headers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from publisher.exceptions import TokenError


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


class TokenSigner:
    """Makes and reads tokens; one instance per secret key (and its former keys).

    Key rotation, as Django's ``SECRET_KEY_FALLBACKS``: tokens are signed with
    ``secret_key`` and accepted when any of ``secret_key`` and ``fallbacks`` verifies
    them, so links already mailed keep working while the old key is listed.
    """

    def __init__(self, secret_key: str, fallbacks: Sequence[str] = ()) -> None:
        if not secret_key:
            raise TokenError("no secret key configured (run `publisher init`)", "secret_key")
        # itsdangerous signs with the last key of the list and verifies with any of them.
        keys = [*(key for key in fallbacks if key and key != secret_key), secret_key]
        self._serializers = {
            purpose: URLSafeTimedSerializer(keys, salt=f"publisher.{purpose.value}")
            for purpose in Purpose
        }

    def make(self, purpose: Purpose, subscriber_id: int, email: str, generation: str = "") -> str:
        """A token; ``generation`` (confirm links) names the consent round it belongs to."""
        payload: list[int | str] = [subscriber_id, address_tag(email)]
        if generation:
            payload.append(generation)
        return str(self._serializers[purpose].dumps(payload))

    def read(self, purpose: Purpose, token: str) -> tuple[int, str]:
        """Return (subscriber id, address tag); raise TokenError for anything wrong."""
        subscriber_id, tag, _generation = self.read_claims(purpose, token)
        return subscriber_id, tag

    def read_claims(self, purpose: Purpose, token: str) -> tuple[int, str, str]:
        """(subscriber id, address tag, generation or ""); TokenError for anything wrong."""
        try:
            payload = self._serializers[purpose].loads(token, max_age=MAX_AGE[purpose])
        except SignatureExpired as exc:
            raise TokenError("this link has expired", "token") from exc
        except BadSignature as exc:
            raise TokenError("this link is not valid", "token") from exc
        if (
            not isinstance(payload, list)
            or len(payload) not in (2, 3)
            or not isinstance(payload[0], int)
            or not all(isinstance(part, str) for part in payload[1:])
        ):
            raise TokenError("this link is not valid", "token")
        return payload[0], payload[1], payload[2] if len(payload) == 3 else ""

    def check_address(self, tag: str, email: str) -> None:
        """Refuse a token whose address tag does not match the subscriber's address now."""
        if tag != address_tag(email):
            raise TokenError("this link is not valid", "token")


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


def read_verp_token(secret_key: str, token: str) -> tuple[str, int, int]:
    """(kind, edition id, subscriber id) of a token; TokenError when it is not ours."""
    parts = token.strip().lower().split(".")
    ok = len(parts) == 3 and len(parts[0]) >= 2 and parts[0][0] in VERP_KINDS and parts[1]
    body = ".".join(parts[:2])
    if not ok or not hmac.compare_digest(parts[2], _verp_signature(secret_key, body)):
        raise TokenError("this VERP token is not valid", "token")
    try:
        return VERP_KINDS[parts[0][0]], int(parts[0][1:], 36), int(parts[1], 36)
    except ValueError as exc:
        raise TokenError("this VERP token is not valid", "token") from exc


def verp_address(base: str, token: str) -> str:
    """``bounces@news.example.org`` + token -> ``bounces+TOKEN@news.example.org``."""
    local, _, domain = base.rpartition("@")
    return f"{local}+{token}@{domain}"
