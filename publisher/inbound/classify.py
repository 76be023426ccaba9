"""From raw mail to events: the one classifier every way in (LMTP, IMAP, files) goes through.

The order matters, because a report looks like an auto-reply (a DSN carries
``Auto-Submitted: auto-replied``) and an auto-reply goes to the VERP address like a bounce:

1. a ``multipart/report`` of type ``feedback-report`` (RFC 5965 ARF, as Yahoo, AOL, Gmail's
   partners and most providers send) -> complaint (``not-spam`` reports -> unrecognised,
   ``opt-out`` -> unsubscribe); Microsoft's JMRP (the original message attached, the
   reader named in ``X-HmXmrOriginalRecipient``) -> complaint;
2. a ``multipart/report`` of type ``delivery-status`` (RFC 3464) -> per recipient:
   ``failed`` with 5.x.x hard bounce, with 4.x.x (retries given up) soft bounce,
   ``delayed`` delayed, ``delivered``/``relayed`` delivered;
3. mail to ``unsubscribe+TOKEN@`` (or ``unsubscribe@`` with the web token in the Subject)
   -> unsubscribe;
4. the non-standard bounce formats flufl.bounce knows (Exim, qmail, old Exchange, Yahoo ...)
   -> hard or soft bounces;
5. auto-replies (RFC 3834 ``Auto-Submitted`` other than ``no``, ``X-Autoreply``,
   ``X-Autorespond``, ``Precedence: auto_reply``, the usual subjects) -> auto_reply;
6. anything else to a VERP bounce address -> a soft bounce (an unreadable bounce is still
   a bounce, and soft bounces only suppress after several); anything else at all ->
   unrecognised. Never an error.

Which subscriber and edition an event is about comes from our VERP token when the mail
carries one (it wins: it is signed and names exactly one message), else from the address
the report names, which the caller looks up.

Status codes that say nothing about the address (5.2.2 mailbox full, 5.7.x policy and spam
refusals, which a blocklisted sending host draws for every reader of a provider) are soft.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import Message

from publisher.inbound.mail import (
    Token,
    addresses_of,
    event_key,
    find_tokens,
    header_text,
    message_key,
    parse,
    subject_unsubscribe,
)
from publisher.inbound.reports import (
    RecipientStatus,
    dsn_recipients,
    feedback,
    original_headers,
    original_recipient,
    report_type,
)
from publisher.types import EventKind, MailEvent

UNSUBSCRIBE_LOCAL = "unsubscribe"
SOFT_STATUSES = ("5.2.2", "5.7.")
_AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?(reply|response|antwort)|auto:|out of (the )?office|"
    r"abwesenheit|réponse automatique|respuesta automática|vacation|on leave|away from)",
    re.I,
)
_JMRP_HEADER = "X-HmXmrOriginalRecipient"


@dataclass(frozen=True, slots=True)
class Addressing:
    """What the classifier needs to know about our own addresses: the key and local parts."""

    secret_key: str
    bounce_local: str = "bounces"
    fallbacks: tuple[str, ...] = ()  # former keys: mail sent before a rotation still counts

    @classmethod
    def for_return_path(
        cls, secret_key: str, return_path: str, fallbacks: tuple[str, ...] = ()
    ) -> Addressing:
        local = return_path.rpartition("@")[0].lower() or "bounces"
        return cls(secret_key, local, fallbacks)


def bounce_kind(action: str, status: str) -> EventKind:
    """The event a DSN recipient block stands for."""
    if action == "delayed":
        return EventKind.DELAYED
    if action in ("delivered", "relayed", "expanded"):
        return EventKind.DELIVERED
    if status.startswith("4."):
        return EventKind.SOFT_BOUNCE
    if status.startswith(SOFT_STATUSES):
        return EventKind.SOFT_BOUNCE
    return EventKind.HARD_BOUNCE


def is_auto_reply(message: Message) -> bool:
    auto = header_text(message, "Auto-Submitted").lower()
    if auto and not auto.startswith("no"):
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    if header_text(message, "Precedence").lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(header_text(message, "Subject")))


class _Builder:
    """Makes the events of one mail: shared key, source, time and token."""

    def __init__(
        self, message: Message, raw: bytes, source: str, now: datetime, token: Token | None
    ) -> None:
        self.base = message_key(message, raw)
        self.message_id = header_text(message, "Message-ID").strip()[:300]
        self.source = source
        self.now = now
        self.token = token

    def event(
        self, kind: EventKind, email: str = "", status: str = "", diagnostic: str = ""
    ) -> MailEvent:
        token = self.token
        return MailEvent(
            key=event_key(self.base, kind.value, email),
            kind=kind,
            source=self.source,
            received_at=self.now,
            email=email.lower(),
            subscriber_id=token.subscriber_id if token else None,
            edition_id=(token.edition_id or None) if token else None,
            status=status,
            diagnostic=diagnostic,
            message_id=self.message_id,
        )


def _token(texts: Sequence[str], addressing: Addressing) -> Token | None:
    """The first valid token at one of our two local parts (bounces, unsubscribe)."""
    ours = (addressing.bounce_local, UNSUBSCRIBE_LOCAL)
    found = find_tokens(texts, addressing.secret_key, addressing.fallbacks)
    return next((t for t in found if t.local in ours), None)


def classify(
    raw: bytes,
    addressing: Addressing,
    source: str,
    now: datetime,
    envelope_recipients: Sequence[str] = (),
) -> list[MailEvent]:
    """The events one inbound mail stands for (at least one; never raises on bad mail)."""
    message = parse(raw)
    # Addressed to a token (the envelope, the delivery headers) or quoting one (the
    # returned original's Return-Path or List-Unsubscribe): only the first kind may
    # unsubscribe, either names the message a report is about.
    direct = _token([*envelope_recipients, *addresses_of(message)], addressing)
    token = direct or _token(original_headers(message), addressing)
    build = _Builder(message, raw, source, now, token)
    kind = report_type(message)
    if kind == "feedback-report" or message.get(_JMRP_HEADER):
        return [_complaint(message, build)]
    if kind == "delivery-status":
        blocks = dsn_recipients(message)
        if blocks:
            return [_dsn_event(block, build) for block in blocks]
    unsubscribe = _unsubscribe(message, addressing, envelope_recipients, build, direct)
    if unsubscribe is not None:
        return [unsubscribe]
    bounces = _flufl(message, build)
    if bounces:
        return bounces
    if is_auto_reply(message):
        sender = next(iter(addresses_of(message, ("From",))), "")
        subject = header_text(message, "Subject")
        return [build.event(EventKind.AUTO_REPLY, sender, diagnostic=subject)]
    if direct is not None and direct.local == addressing.bounce_local:
        return [build.event(EventKind.SOFT_BOUNCE, diagnostic="unreadable mail to VERP address")]
    return [build.event(EventKind.UNRECOGNISED, diagnostic=header_text(message, "Subject"))]


def _complaint(message: Message, build: _Builder) -> MailEvent:
    """A feedback report: a complaint, unless it says "not-spam" (a reader rescued the mail
    from the spam folder: kept, nothing done) or "opt-out" (an unsubscribe)."""
    report = feedback(message)
    recipient = (
        report.recipient
        or header_text(message, _JMRP_HEADER).strip("<> ")
        or original_recipient(message)
    )
    kind = {"not-spam": EventKind.UNRECOGNISED, "opt-out": EventKind.UNSUBSCRIBE}.get(
        report.feedback_type, EventKind.COMPLAINT
    )
    detail = " ".join(f"{report.feedback_type or 'abuse'} {report.user_agent}".split())
    return build.event(kind, recipient, diagnostic=detail)


def _dsn_event(block: RecipientStatus, build: _Builder) -> MailEvent:
    kind = bounce_kind(block.action, block.status)
    return build.event(kind, block.email, block.status, block.diagnostic)


def _unsubscribe(
    message: Message,
    addressing: Addressing,
    envelope: Sequence[str],
    build: _Builder,
    direct: Token | None,
) -> MailEvent | None:
    sender = next(iter(addresses_of(message, ("From",))), "")
    if direct is not None and direct.local == UNSUBSCRIBE_LOCAL:
        return build.event(EventKind.UNSUBSCRIBE, sender, diagnostic="mailto unsubscribe")
    to_plain = any(
        a.lower().startswith(UNSUBSCRIBE_LOCAL + "@")
        for a in [*envelope, *addresses_of(message, ("To", "Delivered-To", "X-Original-To"))]
    )
    if not to_plain:
        return None
    subscriber_id = subject_unsubscribe(message, addressing.secret_key, addressing.fallbacks)
    if subscriber_id is None:
        return None
    event = build.event(EventKind.UNSUBSCRIBE, sender, diagnostic="mailto unsubscribe")
    return _with_subscriber(event, subscriber_id)


def _with_subscriber(event: MailEvent, subscriber_id: int) -> MailEvent:
    return replace(event, subscriber_id=subscriber_id)


def _flufl(message: Message, build: _Builder) -> list[MailEvent]:
    from flufl.bounce import all_failures  # on first use: its detectors take a while to load

    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector tripping on junk must not fail the mail
        return []
    events = [
        build.event(EventKind.HARD_BOUNCE, _text(a), diagnostic="bounce (flufl.bounce)")
        for a in sorted(permanent)
    ]
    events += [
        build.event(EventKind.SOFT_BOUNCE, _text(a), diagnostic="temporary failure (flufl.bounce)")
        for a in sorted(temporary)
        if a not in permanent
    ]
    return events


def _text(address: bytes | str) -> str:
    value = address.decode("utf-8", "replace") if isinstance(address, bytes) else address
    return value.strip("<> ")
