"""Short signed tokens for tracked links: ``<edition>.<link>.<signature>`` in base 36.

A token is a few characters of ids and 12 letters of HMAC-SHA256 (60 bits), so a guessed or
edited token fails verification and the redirect goes to the site's home page, never to an
address taken from the request. With per-reader counting on, the reader's id rides in a
separate signed tag (``~<reader>.<signature>``) that is the same for every link of one
reader's copy, so it is filled into the message like the unsubscribe link is.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from publisher.exceptions import TokenError
from publisher.tokens import ShortSigner, base36, short_signature

_SALT = b"publisher.link\x00"
_READER_SALT = b"publisher.reader\x00"
MAX_TOKEN = 80


@dataclass(frozen=True, slots=True)
class LinkToken:
    """What a verified token names; ``reader`` is 0 unless per-reader counting made it."""

    edition_id: int
    link_id: int
    reader: int = 0


class ReaderTag:
    """The per-reader suffix of tracked links (only with per-reader counting on)."""

    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode("utf-8")

    def make(self, edition_id: int, subscriber_id: int) -> str:
        return self.for_edition(edition_id)(subscriber_id)

    def for_edition(self, edition_id: int) -> Callable[[int], str]:
        """subscriber id -> tag, for one edition: the key and the edition's part of the
        signed text are hashed once per send, not once per reader."""
        signer = ShortSigner(self._key, _READER_SALT, f"{base36(edition_id)}.")

        def make(subscriber_id: int) -> str:
            reader = base36(subscriber_id)
            return f"~{reader}.{signer.sign(reader)}"

        return make


class LinkTokens:
    """Makes and reads link tokens for one secret key."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise TokenError("no secret key configured (run `publisher init`)", "secret_key")
        self._key = secret_key.encode("utf-8")
        self.readers = ReaderTag(secret_key)

    def make(self, edition_id: int, link_id: int) -> str:
        body = f"{base36(edition_id)}.{base36(link_id)}"
        return f"{body}.{short_signature(self._key, _SALT, body)}"

    def read(self, token: str) -> LinkToken:
        """The edition, link (and reader) of ``token``; TokenError for anything wrong."""
        if len(token) > MAX_TOKEN or not token.isascii():
            raise TokenError("this link is not valid", "token")
        main, _, tag = token.partition("~")
        parts = main.split(".")
        if len(parts) != 3 or not all(parts):
            raise TokenError("this link is not valid", "token")
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], short_signature(self._key, _SALT, body)):
            raise TokenError("this link is not valid", "token")
        try:
            edition_id, link_id = int(parts[0], 36), int(parts[1], 36)
        except ValueError as exc:
            raise TokenError("this link is not valid", "token") from exc
        reader = 0
        if tag:
            reader_b36 = tag.partition(".")[0]
            try:
                reader = int(reader_b36, 36)
            except ValueError as exc:
                raise TokenError("this link is not valid", "token") from exc
            expected = self.readers.make(edition_id, reader)
            if not hmac.compare_digest("~" + tag, expected):
                reader = 0  # a bad reader tag still counts the click, for nobody
        return LinkToken(edition_id, link_id, reader)
