"""Provider webhooks: each provider's authentication, and its events as :class:`MailEvent`.

Pure functions over the request's bytes and headers (fetching the SNS certificate is the
caller's I/O). Each check raises :class:`WebhookAuthError` with what was wrong:

- SES, through SNS: the message's signature (RSA with SHA1 or SHA256, SignatureVersion 1
  or 2) over the fields SNS names, checked with the certificate at ``SigningCertURL``,
  which must be https on a host in the allow-list and end in ``.pem``; the topic must be
  one of ours;
- Mailgun: HMAC-SHA256 of timestamp + token with the webhook signing key, and a timestamp
  no older than 15 minutes;
- Postmark: HTTP basic auth with the configured user and password;
- SendGrid: the signed event webhook, ECDSA P-256 with SHA256 over timestamp + body,
  checked with the public key SendGrid shows.

Event keys come from the provider's own event ids, so a retried call stores nothing new.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import ssl
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from publisher.exceptions import InboundError, WebhookAuthError
from publisher.inbound.classify import Addressing
from publisher.inbound.mail import Token, event_key, find_tokens
from publisher.types import EventKind, MailEvent

MAILGUN_MAX_AGE = 15 * 60
SNS_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SNS_SUBSCRIPTION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _event(
    base: str,
    kind: EventKind,
    source: str,
    now: datetime,
    email: str,
    token: Token | None,
    status: str = "",
    diagnostic: str = "",
    message_id: str = "",
) -> MailEvent:
    return MailEvent(
        key=event_key(base, kind.value, email),
        kind=kind,
        source=source,
        received_at=now,
        email=email.strip().lower(),
        subscriber_id=token.subscriber_id if token else None,
        edition_id=(token.edition_id or None) if token else None,
        status=status[:20],
        diagnostic=" ".join(diagnostic.split()),
        message_id=message_id,
    )


def _token(texts: Iterable[str], addressing: Addressing) -> Token | None:
    return next(iter(find_tokens(list(texts), addressing.secret_key, addressing.fallbacks)), None)


# --- Amazon SES through SNS ------------------------------------------------------------------


def sns_string_to_sign(message: Mapping[str, Any]) -> bytes:
    kind = _text(message.get("Type"))
    fields = SNS_NOTIFICATION_FIELDS if kind == "Notification" else SNS_SUBSCRIPTION_FIELDS
    lines = []
    for name in fields:
        if name in message and message[name] is not None:
            lines.append(f"{name}\n{_text(message[name])}\n")
    return "".join(lines).encode("utf-8")


def check_sns_url(url: str, allowed_hosts: Sequence[str], what: str) -> None:
    """An SNS URL we may fetch: https, a host matching the allow-list."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not any(fnmatch.fnmatch(host, p) for p in allowed_hosts):
        raise WebhookAuthError("ses", f"{what} {url!r} is not on an allowed https host")
    if what == "SigningCertURL" and not parts.path.endswith(".pem"):
        raise WebhookAuthError("ses", f"{what} {url!r} is not a .pem certificate")


def verify_sns(message: Mapping[str, Any], certificate_pem: bytes, topics: Sequence[str]) -> None:
    """The SNS message is signed by the certificate and comes from one of our topics."""
    if _text(message.get("TopicArn")) not in topics:
        raise WebhookAuthError("ses", f"topic {message.get('TopicArn')!r} is not configured")
    version = _text(message.get("SignatureVersion"))
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise WebhookAuthError("ses", f"unknown SignatureVersion {version!r}")
    try:
        signature = base64.b64decode(_text(message.get("Signature")), validate=True)
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except (binascii.Error, ValueError) as exc:
        raise WebhookAuthError("ses", f"unreadable signature or certificate: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookAuthError("ses", "the signing certificate has no RSA key")
    try:
        key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise WebhookAuthError("ses", "the signature does not match") from exc


_SES_BOUNCE = {"Permanent": EventKind.HARD_BOUNCE}


def ses_events(
    message: Mapping[str, Any], notification: Mapping[str, Any], a: Addressing, now: datetime
) -> list[MailEvent]:
    """Events of one SES notification (``notificationType`` or event publishing's
    ``eventType``): Bounce, Complaint, Delivery; anything else is not stored."""
    kind = _text(notification.get("notificationType") or notification.get("eventType"))
    mail = notification.get("mail") or {}
    headers = [_text(h.get("value")) for h in mail.get("headers") or [] if isinstance(h, dict)]
    token = _token([_text(mail.get("source")), *headers], a)
    base = f"ses:{_text(message.get('MessageId'))}"
    message_id = _text((mail.get("commonHeaders") or {}).get("messageId"))

    def make(kind: EventKind, email: str, status: str = "", detail: str = "") -> MailEvent:
        return _event(base, kind, "ses", now, email, token, status, detail, message_id)

    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        which = _SES_BOUNCE.get(_text(bounce.get("bounceType")), EventKind.SOFT_BOUNCE)
        return [
            make(
                which,
                _text(r.get("emailAddress")),
                _text(r.get("status")),
                _text(r.get("diagnosticCode")) or _text(bounce.get("bounceSubType")),
            )
            for r in bounce.get("bouncedRecipients") or []
        ]
    if kind == "Complaint":
        complaint = notification.get("complaint") or {}
        detail = _text(complaint.get("complaintFeedbackType")) or "abuse"
        return [
            make(EventKind.COMPLAINT, _text(r.get("emailAddress")), detail=detail)
            for r in complaint.get("complainedRecipients") or []
        ]
    if kind == "Delivery":
        delivery = notification.get("delivery") or {}
        return [make(EventKind.DELIVERED, _text(r)) for r in delivery.get("recipients") or []]
    return []


def fetch_https(url: str, ca_file: Path | None = None) -> bytes:
    """GET an SNS URL (certificate, subscription confirmation); no redirects followed."""
    import httpx  # on first use: httpx imports click (its CLI), which core must not load

    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    try:
        response = httpx.get(url, timeout=10.0, verify=verify, follow_redirects=False)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise InboundError(f"ses webhook: cannot fetch {url}: {exc}") from exc
    return response.content


# --- Mailgun -----------------------------------------------------------------------------------


def verify_mailgun(body: Mapping[str, Any], signing_key: str, now: datetime) -> None:
    signature = body.get("signature") or {}
    timestamp, token = _text(signature.get("timestamp")), _text(signature.get("token"))
    expected = hmac.new(
        signing_key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, _text(signature.get("signature"))):
        raise WebhookAuthError("mailgun", "the signature does not match")
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > MAILGUN_MAX_AGE:
        raise WebhookAuthError("mailgun", "the signature's timestamp is stale")


def mailgun_events(body: Mapping[str, Any], a: Addressing, now: datetime) -> list[MailEvent]:
    data = body.get("event-data") or {}
    event = _text(data.get("event"))
    email = _text(data.get("recipient"))
    status = data.get("delivery-status") or {}
    token = _token([_text((data.get("envelope") or {}).get("sender"))], a)
    headers = (data.get("message") or {}).get("headers") or {}
    base = f"mailgun:{_text(data.get('id'))}"
    code = _text(status.get("enhanced-code")) or _text(status.get("code"))
    detail = _text(status.get("message")) or _text(status.get("description"))
    if event == "failed":
        permanent = _text(data.get("severity")) == "permanent"
        kind = EventKind.HARD_BOUNCE if permanent else EventKind.SOFT_BOUNCE
    else:
        kinds = {
            "complained": EventKind.COMPLAINT,
            "unsubscribed": EventKind.UNSUBSCRIBE,
            "delivered": EventKind.DELIVERED,
        }
        if event not in kinds:
            return []
        kind = kinds[event]
    message_id = _text(headers.get("message-id"))
    return [_event(base, kind, "mailgun", now, email, token, code, detail, message_id)]


# --- Postmark ---------------------------------------------------------------------------------


def verify_postmark(authorization: str, user: str, password: str) -> None:
    scheme, _, encoded = authorization.partition(" ")
    try:
        given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        given = ""
    expected = f"{user}:{password}"
    if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
        raise WebhookAuthError("postmark", "wrong or missing basic-auth credentials")


_POSTMARK_BOUNCES = {
    "HardBounce": EventKind.HARD_BOUNCE,
    "BadEmailAddress": EventKind.HARD_BOUNCE,
    "SoftBounce": EventKind.SOFT_BOUNCE,
    "Transient": EventKind.SOFT_BOUNCE,
    "DnsError": EventKind.SOFT_BOUNCE,
    "Blocked": EventKind.SOFT_BOUNCE,
    "DMARCPolicy": EventKind.SOFT_BOUNCE,
    "SpamComplaint": EventKind.COMPLAINT,
    "SpamNotification": EventKind.COMPLAINT,
    "Unsubscribe": EventKind.UNSUBSCRIBE,
    "AutoResponder": EventKind.AUTO_REPLY,
}


def postmark_events(body: Mapping[str, Any], a: Addressing, now: datetime) -> list[MailEvent]:
    record = _text(body.get("RecordType"))
    email = _text(body.get("Email") or body.get("Recipient"))
    base = f"postmark:{record}:{_text(body.get('ID') or body.get('MessageID'))}"
    if record in ("Bounce", "SpamComplaint"):
        kind = _POSTMARK_BOUNCES.get(_text(body.get("Type")), EventKind.UNRECOGNISED)
    elif record == "Delivery":
        kind = EventKind.DELIVERED
    else:
        return []
    detail = _text(body.get("Details")) or _text(body.get("Description"))
    status = _text(body.get("TypeCode"))
    message_id = _text(body.get("MessageID"))
    return [_event(base, kind, "postmark", now, email, None, status, detail, message_id)]


# --- SendGrid ---------------------------------------------------------------------------------

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def verify_sendgrid(public_key: str, headers: Mapping[str, str], body: bytes) -> None:
    try:
        key = load_der_public_key(base64.b64decode(public_key))
        signature = base64.b64decode(headers.get(SENDGRID_SIGNATURE, ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookAuthError("sendgrid", f"unreadable key or signature: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise WebhookAuthError("sendgrid", "the configured public key is not an ECDSA key")
    signed = headers.get(SENDGRID_TIMESTAMP, "").encode("utf-8") + body
    try:
        key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise WebhookAuthError("sendgrid", "the signature does not match") from exc


def sendgrid_events(body: Sequence[Any], a: Addressing, now: datetime) -> list[MailEvent]:
    events = []
    for item in body:
        if not isinstance(item, dict):
            continue
        kind = _sendgrid_kind(item)
        if kind is None:
            continue
        email = _text(item.get("email"))
        base = f"sendgrid:{_text(item.get('sg_event_id'))}"
        status, detail = _text(item.get("status")), _text(item.get("reason"))
        message_id = _text(item.get("smtp-id") or item.get("sg_message_id"))
        events.append(_event(base, kind, "sendgrid", now, email, None, status, detail, message_id))
    return events


def _sendgrid_kind(item: Mapping[str, Any]) -> EventKind | None:
    event = _text(item.get("event"))
    if event == "bounce":
        blocked = _text(item.get("type")) == "blocked"
        return EventKind.SOFT_BOUNCE if blocked else EventKind.HARD_BOUNCE
    return {
        "deferred": EventKind.DELAYED,
        "delivered": EventKind.DELIVERED,
        "spamreport": EventKind.COMPLAINT,
        "unsubscribe": EventKind.UNSUBSCRIBE,
        "group_unsubscribe": EventKind.UNSUBSCRIBE,
    }.get(event)
