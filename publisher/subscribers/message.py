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

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from publisher.exceptions import RenderError, SubscriberError
from publisher.mailheaders import HeaderValue, Mailbox, Token, header_block
from publisher.text import one_line


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


def _text(mail: ConfirmationMail) -> str:
    name = one_line(mail.recipient_name)
    greeting = f"Hello {name}," if name else "Hello,"
    return (
        f"{greeting}\n\n"
        f"someone (we hope you) asked to receive the newsletter of {one_line(mail.site_title)} "
        f"at this address.\n\n"
        f"To confirm, open this link within {mail.valid_days} days:\n\n"
        f"{mail.confirm_url}\n\n"
        "If you did not ask for this, ignore this message: you will not hear from us again.\n\n"
        f"{one_line(mail.site_title)} - {mail.site_url}\n"
    )


def _html(mail: ConfirmationMail) -> str:
    title = html.escape(one_line(mail.site_title))
    url = html.escape(mail.confirm_url, quote=True)
    name = html.escape(one_line(mail.recipient_name))
    greeting = f"Hello {name}," if name else "Hello,"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Confirm your subscription to {title}</title></head>"
        '<body style="font-family:Arial,sans-serif;color:#1a1a1a;background-color:#ffffff">'
        f"<p>{greeting}</p>"
        f"<p>Someone (we hope you) asked to receive the newsletter of {title} at this address.</p>"
        f'<p><a href="{url}" style="color:#0b57d0">Confirm my subscription</a></p>'
        f"<p>The link works for {mail.valid_days} days. If you did not ask for this, ignore "
        "this message: you will not hear from us again.</p>"
        f'<p><a href="{html.escape(mail.site_url, quote=True)}">{title}</a></p>'
        "</body></html>\n"
    )


ExtraHeaders = Sequence[tuple[str, HeaderValue]]


def confirmation_message(
    mail: ConfirmationMail, now: datetime, extra: ExtraHeaders = ()
) -> tuple[str, bytes]:
    """(Message-ID, message bytes) of the confirmation mail; ``now`` must be aware.

    ``extra``: more headers (List-Unsubscribe with a mailto, say), written like ours.
    """
    subject = f"Confirm your subscription to {mail.site_title}"
    return _build(mail, subject, _text(mail), _html(mail), now, extra)


@dataclass(frozen=True, slots=True)
class SettingsLinkMail(ServiceMail):
    """A reader asked for their settings link (they lost the newsletter mails)."""

    preferences_url: str
    unsubscribe_url: str


def settings_link_message(
    mail: SettingsLinkMail, now: datetime, extra: ExtraHeaders = ()
) -> tuple[str, bytes]:
    """(Message-ID, message bytes) of the mail carrying a reader's own settings links."""
    title = one_line(mail.site_title)
    text = (
        "Hello,\n\n"
        f"here are the links to your newsletter settings at {title}, as you asked:\n\n"
        f"Change how often and which topics: {mail.preferences_url}\n\n"
        f"Unsubscribe: {mail.unsubscribe_url}\n\n"
        "If you did not ask for this, ignore this message: nothing has changed.\n\n"
        f"{title} - {mail.site_url}\n"
    )
    escaped = html.escape(title)
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Your newsletter settings at {escaped}</title></head>"
        '<body style="font-family:Arial,sans-serif;color:#1a1a1a;background-color:#ffffff">'
        f"<p>Hello,</p><p>here are the links to your newsletter settings at {escaped}, as you "
        "asked:</p>"
        f'<p><a href="{html.escape(mail.preferences_url, quote=True)}" style="color:#0b57d0">'
        "Change how often and which topics</a></p>"
        f'<p><a href="{html.escape(mail.unsubscribe_url, quote=True)}" style="color:#0b57d0">'
        "Unsubscribe</a></p>"
        "<p>If you did not ask for this, ignore this message: nothing has changed.</p>"
        "</body></html>\n"
    )
    return _build(mail, f"Your newsletter settings at {mail.site_title}", text, body, now, extra)


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
    mail: ConfirmationMail | SettingsLinkMail,
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
