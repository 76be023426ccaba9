"""Message-IDs derived from (edition, subscriber), so a resend carries the same one.

``email.utils.make_msgid`` is random: a message resent after a crash (between the server's
250 and our commit) would look new to the receiving side. A derived id lets it drop the copy.
The hash part keeps ids from being a bare, guessable counter and from colliding across
installations that share a domain.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from publisher.digest.periods import slug_of

_ATOM_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


def message_id_for(edition_key: str, subscriber_id: int, domain: str) -> str:
    """``<daily-2026-11-27.42.3f9a0c1b2d4e@news.example.org>``: same inputs, same id."""
    return message_ids(edition_key, domain)(subscriber_id)


def message_ids(edition_key: str, domain: str) -> Callable[[int], str]:
    """subscriber id -> :func:`message_id_for` of one edition; what is the same for every
    reader (the cleaned names, the hash of the edition's key) is done once."""
    left = _ATOM_UNSAFE.sub("-", slug_of(edition_key)).strip(".-") or "edition"
    host = _ATOM_UNSAFE.sub("-", domain.strip().lower()).strip(".-") or "localhost"
    start = hashlib.sha256(f"{edition_key}\x00".encode())
    end = f"\x00{host}"

    def make(subscriber_id: int) -> str:
        number = int(subscriber_id)
        seed = start.copy()
        seed.update(f"{number}{end}".encode())
        return f"<{left}.{number}.{seed.hexdigest()[:12]}@{host}>"

    return make
