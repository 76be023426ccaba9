"""The mails of the subscription pages (double opt-in, settings link), as RFC 5322 bytes.

One From, one To, Subject, Date in UTC with a real zone, a Message-ID on our domain, text
first and HTML last, both quoted-printable (rules M1-M4 of the e-mail standard). Every
header comes from :func:`publisher.mailheaders.header_block`, which writes names as literal
text (an encoded word a reader typed is never decoded into headers); only the MIME body is
made by :class:`email.message.EmailMessage`. A confirmation is a transactional message,
not a bulk one: it carries ``Auto-Submitted: auto-generated`` but no List-Unsubscribe (the
reader has not joined any list yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from publisher.exceptions import RenderError, SubscriberError
from publisher.mailheaders import HeaderValue, Mailbox, Token, header_block


@dataclass(frozen=True, slots=True)
class ServiceMail:
    """Who a subscription mail is from and to, and which site it speaks for (plain text)."""

    sender: str
    sender_name: str
    recipient: str
    recipient_name: str
    site_title: str
    site_url: str


@dataclass(frozen=True, slots=True)
class ConfirmationMail(ServiceMail):
    """The double opt-in mail: its confirmation link and how long the link works."""

    confirm_url: str
    valid_days: int


@dataclass(frozen=True, slots=True)
class SettingsLinkMail(ServiceMail):
    """A reader asked for their settings link (they lost the newsletter mails, or followed
    a stale unsubscribe link and asked for a fresh one)."""

    preferences_url: str
    unsubscribe_url: str


@dataclass(frozen=True, slots=True)
class MailBody:
    """A rendered subscription mail: its subject and both parts, in the reader's language.

    Rendered by core from the e-mail templates (the digest's stylesheet, inlined); this
    module only turns it into a message.
    """

    subject: str
    text: str
    html: str


ExtraHeaders = Sequence[tuple[str, HeaderValue]]


def service_message(
    mail: ServiceMail, body: MailBody, now: datetime, extra: ExtraHeaders = ()
) -> tuple[str, bytes]:
    """(Message-ID, message bytes) of a subscription mail; ``now`` must be aware.

    ``extra``: more headers (List-Unsubscribe with a mailto, say), written like ours.
    """
    return _build(mail, body.subject, body.text, body.html, now, extra)


def service_headers(
    mail: ServiceMail,
    subject: str,
    message_id: str,
    now: datetime,
    extra: ExtraHeaders = (),
) -> bytes:
    """The header block of a subscription mail; ``extra`` adds list headers after ours."""
    fields: list[tuple[str, HeaderValue]] = [
        ("From", Mailbox(mail.sender, mail.sender_name or mail.site_title)),
        ("To", Mailbox(mail.recipient, mail.recipient_name)),
        ("Subject", subject),
        ("Date", Token(format_datetime(now))),
        ("Message-ID", Token(message_id)),
        ("Auto-Submitted", Token("auto-generated")),
        *extra,
    ]
    try:
        return header_block(fields)
    except RenderError as exc:
        raise SubscriberError(str(exc), "email") from exc


def _build(
    mail: ServiceMail,
    subject: str,
    text: str,
    body: str,
    now: datetime,
    extra: ExtraHeaders = (),
) -> tuple[str, bytes]:
    """Headers from the one header writer; the MIME body (and only it) from the email package."""
    domain = mail.sender.rpartition("@")[2] or "localhost"
    message_id = make_msgid(domain=domain)
    head = service_headers(mail, subject, message_id, now, extra)
    content = EmailMessage(policy=policy.SMTP)
    content.set_content(text, cte="quoted-printable")
    content.add_alternative(body, subtype="html", cte="quoted-printable")
    return message_id, head + content.as_bytes()
