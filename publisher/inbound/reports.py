"""Machine-readable reports: delivery status notifications (RFC 3464) and feedback (RFC 5965).

Both come as ``multipart/report``: a human part, a machine part (``message/delivery-status``
or ``message/feedback-report``) of header-like fields, and the original message or its
headers. The machine part is read here, field by field, per recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_string
from email.message import Message
from email.utils import getaddresses

from publisher.inbound.mail import part_text, walk

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_TYPE = re.compile(r"^[^;]*;\s*", re.S)
ORIGINAL_PARTS = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One recipient's block of a DSN."""

    email: str
    action: str
    status: str
    diagnostic: str


def report_type(message: Message) -> str:
    if message.get_content_type() != "multipart/report":
        return ""
    return str(message.get_param("report-type") or "").lower()


def _blocks(text: str) -> list[Message]:
    """The field blocks of a machine part (blank-line separated), each as a Message."""
    normalised = text.replace("\r\n", "\n").strip("\n")
    return [message_from_string(b.strip("\n") + "\n") for b in re.split(r"\n\s*\n", normalised)]


def _machine_part(message: Message, content_type: str) -> list[Message]:
    """The field blocks of the report's machine part (the email package has usually parsed
    them into sub-messages already; otherwise they are split here)."""
    for part in walk(message):
        if part.get_content_type() == content_type:
            payload = part.get_payload()
            if isinstance(payload, list):
                return [p for p in payload if isinstance(p, Message)]
            return _blocks(part_text(part))
    return []


def _address(value: str) -> str:
    """``rfc822; reader@example.com`` -> ``reader@example.com``."""
    return _TYPE.sub("", " ".join(value.split())).strip("<> ")


def dsn_recipients(message: Message) -> list[RecipientStatus]:
    """Per-recipient blocks of a DSN (the first block is per-message and has no recipient)."""
    found = []
    for block in _machine_part(message, "message/delivery-status"):
        recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
        if not recipient:
            continue
        status = _STATUS.search(str(block.get("Status", "")))
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        found.append(
            RecipientStatus(
                email=_address(str(recipient)),
                action=str(block.get("Action", "")).strip().lower(),
                status=status.group(0) if status else "",
                diagnostic=_TYPE.sub("", diagnostic),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class Feedback:
    """The machine part of a feedback report."""

    feedback_type: str
    recipient: str
    user_agent: str


def feedback(message: Message) -> Feedback:
    blocks = _machine_part(message, "message/feedback-report")
    first = blocks[0] if blocks else Message()
    recipient = first.get("Original-Rcpt-To") or first.get("Removal-Recipient") or ""
    return Feedback(
        feedback_type=str(first.get("Feedback-Type", "")).strip().lower(),
        recipient=_address(str(recipient)),
        user_agent=" ".join(str(first.get("User-Agent", "")).split()),
    )


def original_headers(message: Message) -> list[str]:
    """Header text of the returned original message (where the VERP token may be)."""
    texts: list[str] = []
    for part in walk(message):
        kind = part.get_content_type()
        if kind not in ORIGINAL_PARTS:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            texts.extend(
                "\n".join(f"{k}: {v}" for k, v in p.items())
                for p in payload
                if isinstance(p, Message)
            )
        else:
            texts.append(part_text(part).split("\n\n")[0])
    return texts


def original_recipient(message: Message) -> str:
    """The To address of the returned original message ('' when there is none)."""
    for part in walk(message):
        if part.get_content_type() != "message/rfc822":
            continue
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            found = getaddresses([str(v) for v in inner.get_all("To") or []])
            return next((addr for _, addr in found if addr), "")
    return ""
