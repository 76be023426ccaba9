"""Pure decisions about one try: retry or give up, when to retry, what a reply code means.

No I/O here, so every rule is a plain function a test can call with plain values.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from publisher.exceptions import DeliveryError, PermanentDeliveryError
from publisher.types import ClaimedDelivery, DeliveryOutcome, DeliveryState

HARD_BOUNCE_CODES = frozenset({550, 551, 553})
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
MAX_DELAY_SECONDS = 6 * 3600.0


def is_hard_bounce(code: int | None, text: str) -> bool:
    """550, 551, 553, or an enhanced status 5.1.x (bad address): the address itself is bad."""
    if code in HARD_BOUNCE_CODES:
        return True
    found = _ENHANCED.search(text)
    return bool(found and found.group(1) == "5" and found.group(2) == "1")


def backoff_seconds(attempts: int, base: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: ``base * 2**(attempts-1)`` scaled by 0.5-1.5.

    The jitter spreads retries of a batch that failed together (a server that said 421 to
    everyone) so they do not come back as one burst.
    """
    draw = float((rng or random).uniform(0.5, 1.5))
    return min(base * (2.0 ** max(attempts - 1, 0)) * draw, MAX_DELAY_SECONDS)


def sent(claim: ClaimedDelivery, message_id: str, reply: str) -> DeliveryOutcome:
    return DeliveryOutcome(
        claim.id,
        DeliveryState.SENT,
        claim.attempts + 1,
        message_id,
        reply,
        edition_id=claim.edition_id,
    )


def skipped(claim: ClaimedDelivery) -> DeliveryOutcome:
    """A row whose subscriber left (or was suppressed) after the edition was planned."""
    reply = "not sent: subscriber no longer active or address suppressed"
    return DeliveryOutcome(
        claim.id, DeliveryState.SUPPRESSED, claim.attempts, None, reply, edition_id=claim.edition_id
    )


def after_failure(
    claim: ClaimedDelivery,
    error: DeliveryError,
    message_id: str | None,
    now: datetime,
    max_attempts: int,
    base_seconds: float,
    rng: random.Random | None = None,
) -> DeliveryOutcome:
    """Deferred with a retry time, failed (5xx or out of tries), or suppressed (hard bounce)."""
    attempts = claim.attempts + 1
    reply = str(error)
    if isinstance(error, PermanentDeliveryError):
        if error.hard_bounce:
            return DeliveryOutcome(
                claim.id,
                DeliveryState.SUPPRESSED,
                attempts,
                message_id,
                reply,
                bounce=True,
                edition_id=claim.edition_id,
            )
        return DeliveryOutcome(
            claim.id, DeliveryState.FAILED, attempts, message_id, reply, edition_id=claim.edition_id
        )
    if attempts >= max_attempts:
        reply = f"gave up after {attempts} tries: {reply}"
        return DeliveryOutcome(
            claim.id, DeliveryState.FAILED, attempts, message_id, reply, edition_id=claim.edition_id
        )
    delay = timedelta(seconds=backoff_seconds(attempts, base_seconds, rng))
    return DeliveryOutcome(
        claim.id,
        DeliveryState.DEFERRED,
        attempts,
        message_id,
        reply,
        retry_at=now + delay,
        edition_id=claim.edition_id,
    )
