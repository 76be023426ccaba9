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
from collections.abc import Sequence
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

    def make(self, purpose: Purpose, subscriber_id: int, email: str) -> str:
        return str(self._serializers[purpose].dumps([subscriber_id, address_tag(email)]))

    def read(self, purpose: Purpose, token: str) -> tuple[int, str]:
        """Return (subscriber id, address tag); raise TokenError for anything wrong."""
        try:
            payload = self._serializers[purpose].loads(token, max_age=MAX_AGE[purpose])
        except SignatureExpired as exc:
            raise TokenError("this link has expired", "token") from exc
        except BadSignature as exc:
            raise TokenError("this link is not valid", "token") from exc
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not isinstance(payload[0], int)
            or not isinstance(payload[1], str)
        ):
            raise TokenError("this link is not valid", "token")
        return payload[0], payload[1]

    def check_address(self, tag: str, email: str) -> None:
        """Refuse a token whose address tag does not match the subscriber's address now."""
        if tag != address_tag(email):
            raise TokenError("this link is not valid", "token")
