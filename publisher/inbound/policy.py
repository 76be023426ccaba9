"""The suppression policy: what an event does to its subscriber. Pure: counts in, action out.

- a hard bounce: the reader is ``bounced`` and the address suppressed at once;
- soft bounces: suppressed (and ``bounced``) once ``soft_limit`` of them (one per edition)
  arrived within ``soft_days`` with no delivery reported between (the caller counts);
- a complaint: the reader is ``unsubscribed`` and suppressed, the reason kept (mailbox
  providers count every further message to a complainer against the sender);
- an unsubscribe by mail: what the web link does (``unsubscribed``, suppressed);
- everything else (delays, deliveries, auto-replies, the unrecognised) is only recorded.
"""

from __future__ import annotations

from enum import StrEnum

from publisher.types import EventKind, MailEvent


class Action(StrEnum):
    NOTHING = "nothing"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"


def decide(event: MailEvent, soft_bounces: int, soft_limit: int) -> Action:
    """What ``event`` does, given the subscriber's soft bounces counted with it."""
    if event.kind is EventKind.HARD_BOUNCE:
        return Action.BOUNCE
    if event.kind is EventKind.SOFT_BOUNCE:
        return Action.BOUNCE if soft_bounces >= soft_limit else Action.NOTHING
    if event.kind is EventKind.COMPLAINT:
        return Action.COMPLAINT
    if event.kind is EventKind.UNSUBSCRIBE:
        return Action.UNSUBSCRIBE
    return Action.NOTHING


def reason(event: MailEvent, action: Action, soft_bounces: int = 0) -> str:
    """The suppression reason kept with the address."""
    detail = " ".join(f"{event.status} {event.diagnostic}".split())[:300]
    if action is Action.COMPLAINT:
        return f"complaint ({event.source}): {detail}".rstrip(": ")
    if event.kind is EventKind.SOFT_BOUNCE:
        return f"{soft_bounces} soft bounces ({event.source}): {detail}".rstrip(": ")
    return f"hard bounce ({event.source}): {detail}".rstrip(": ")
