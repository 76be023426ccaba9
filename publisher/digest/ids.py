"""Message-IDs derived from (edition, subscriber), so a resend carries the same one.

``email.utils.make_msgid`` is random: a message resent after a crash (between the server's
250 and our commit) would look new to the receiving side. A derived id lets it drop the copy.
The hash part keeps ids from being a bare, guessable counter and from colliding across
installations that share a domain.
"""

from __future__ import annotations

import hashlib
import re

from publisher.digest.periods import slug_of

_ATOM_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


def message_id_for(edition_key: str, subscriber_id: int, domain: str) -> str:
    """``<daily-2026-11-27.42.3f9a0c1b2d4e@news.example.org>``: same inputs, same id."""
    left = _ATOM_UNSAFE.sub("-", slug_of(edition_key)).strip(".-") or "edition"
    host = _ATOM_UNSAFE.sub("-", domain.strip().lower()).strip(".-") or "localhost"
    seed = f"{edition_key}\x00{subscriber_id}\x00{host}".encode()
    tag = hashlib.sha256(seed).hexdigest()[:12]
    return f"<{left}.{int(subscriber_id)}.{tag}@{host}>"
