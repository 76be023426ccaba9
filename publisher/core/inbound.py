"""The deliverability loop: VERP addresses out, bounces, complaints and unsubscribes in.

:class:`Inbound` is reached as ``publisher.inbound``. It takes raw mail (from the LMTP
receiver, an IMAP mailbox, files) and provider webhooks, has :mod:`publisher.inbound`
classify them (pure functions over bytes), stores each event once, and applies the
suppression policy. The two functions at the top make the addresses that bring mail back:
the envelope sender (``bounces+TOKEN@``) and the ``unsubscribe+TOKEN@`` mailto.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from publisher.addresses import normalise_address
from publisher.config import Settings
from publisher.exceptions import InboundError, NotFound, PublisherError
from publisher.inbound import Action, Addressing, classify, decide
from publisher.inbound.policy import reason
from publisher.store import Store
from publisher.tokens import fallback_keys, verp_address, verp_token, verp_tokens
from publisher.types import EventKind, MailEvent, Subscriber, SubscriberStatus

if TYPE_CHECKING:  # the receiver, the IMAP client and the webhook crypto load on first use
    from publisher.inbound.receiver import Receiver

__all__ = ["EditionEvents", "FetchReport", "Inbound", "ProcessReport"]


def envelope_sender(settings: Settings, kind: str, edition_id: int, subscriber_id: int) -> str:
    """The envelope sender of one message: a VERP address when a return path is set."""
    base = settings.mail.return_path
    if not base or subscriber_id <= 0:
        return settings.digest.from_address
    return verp_address(base, verp_token(settings.secret_key, kind, edition_id, subscriber_id))


def unsubscribe_mailto(
    settings: Settings, host: str, edition_id: int, subscriber_id: int, web_token: str
) -> str:
    """The List-Unsubscribe mailto: ``unsubscribe+TOKEN@`` the return path's domain.

    Without a return path it stays ``unsubscribe@HOST``; either way the subject carries the
    web unsubscribe token, so a reply to the plain address is understood too.
    """
    return digest_addresses(settings, host, edition_id)(subscriber_id, web_token)[1]


def digest_addresses(
    settings: Settings, host: str, edition_id: int
) -> Callable[[int, str], tuple[str, str]]:
    """(subscriber id, web unsubscribe token) -> (envelope sender, List-Unsubscribe mailto)
    of one edition's digests: what :func:`envelope_sender` and :func:`unsubscribe_mailto`
    give, with the key and the edition's part of the VERP token hashed once per send and
    the reader's VERP token made once for both addresses."""
    base = settings.mail.return_path
    plain = f"mailto:unsubscribe@{host}?subject="
    if not base:
        sender = settings.digest.from_address
        return lambda subscriber_id, web_token: (sender, plain + web_token)
    verp = verp_tokens(settings.secret_key, "digest", edition_id)
    local, _, domain = base.rpartition("@")
    bounces = f"{local}+"
    bounce_domain = f"@{domain}"
    mailto = "mailto:unsubscribe+"
    subject = f"@{domain}?subject="

    def make(subscriber_id: int, web_token: str) -> tuple[str, str]:
        if subscriber_id <= 0:
            return settings.digest.from_address, plain + web_token
        token = verp(subscriber_id)
        return bounces + token + bounce_domain, mailto + token + subject + web_token

    return make


@dataclass(frozen=True)
class ProcessReport:
    """What one mail (or one webhook call) did: events new and already known, actions taken."""

    stored: list[MailEvent] = field(default_factory=list)
    duplicates: int = 0
    actions: list[tuple[str, Action]] = field(default_factory=list)

    def __add__(self, other: ProcessReport) -> ProcessReport:
        return ProcessReport(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.actions + other.actions,
        )


@dataclass(frozen=True)
class EditionEvents:
    """Bounces, complaints and unsubscribes of one edition, with its sent count and warnings."""

    edition_key: str
    sent: int
    bounces: int
    complaints: int
    unsubscribes: int
    warnings: tuple[str, ...]


@dataclass(eq=False)
class Inbound:
    """Inbound mail and provider reports in, events stored once, the policy applied.

    Collaborators are fields: settings, the store, the clock, and how to unsubscribe a
    reader (the same step the web's unsubscribe link takes).
    """

    settings: Settings
    store: Store
    clock: Callable[[], datetime]
    unsubscribe: Callable[[Subscriber], Subscriber]
    _certificates: dict[str, bytes] = field(default_factory=dict, init=False)

    @property
    def addressing(self) -> Addressing:
        settings = self.settings
        return Addressing.for_return_path(
            settings.secret_key,
            settings.mail.return_path,
            fallback_keys(settings.secret_key_fallbacks),
        )

    # --- ways in -------------------------------------------------------------------------

    def process(
        self, raw: bytes, source: str = "file", envelope_recipients: Sequence[str] = ()
    ) -> ProcessReport:
        """Classify one raw mail, store its events (once), apply the policy to new ones."""
        events = classify(raw, self.addressing, source, self.clock(), envelope_recipients)
        return self.record(events)

    def record(self, events: Sequence[MailEvent]) -> ProcessReport:
        """Store events whose key is new and apply the policy to each of those."""
        resolved = [self._resolve(e) for e in events]
        stored = self.store.events.record(resolved)
        actions = [(e.email, self._apply(e)) for e in stored]
        return ProcessReport(stored, len(resolved) - len(stored), actions)

    def receiver(self, listen: str, lmtp: bool = True) -> Receiver:
        """The LMTP (or SMTP) receiver on ``listen``; the caller starts and stops it."""
        from publisher.inbound.receiver import Receiver

        def handle(raw: bytes, recipients: Sequence[str]) -> None:
            self.process(raw, "lmtp" if lmtp else "smtp", recipients)

        return Receiver(listen, lmtp, handle, self.settings.inbound.max_bytes)

    def fetch(self) -> FetchReport:
        """Poll the IMAP mailbox once: process each message, then move it to the done folder."""
        from publisher.inbound.imap import ImapOptions, fetch_mailbox

        s = self.settings.inbound
        if not s.imap_host:
            raise InboundError("no IMAP mailbox configured (inbound.imap_host)")
        options = ImapOptions(
            s.imap_host,
            s.imap_port,
            s.imap_security,
            s.imap_user,
            str(s.imap_password),
            s.imap_folder,
            s.imap_done_folder,
        )
        reports: list[ProcessReport] = []
        count = fetch_mailbox(options, lambda raw: reports.append(self.process(raw, "imap")))
        return FetchReport(count, sum(reports[1:], reports[0]) if reports else ProcessReport())

    def webhook(self, provider: str, headers: Mapping[str, str], body: bytes) -> ProcessReport:
        """One provider webhook call: authenticate it, read its events, record them.

        NotFound when that provider's webhook is not configured; WebhookAuthError when the
        call fails its authentication; InboundError when the body is not what it should be.
        """
        from publisher.inbound import webhooks

        s = self.settings.inbound
        enabled = {
            "ses": bool(s.ses_topics),
            "mailgun": bool(s.mailgun_signing_key),
            "postmark": bool(s.postmark_user and s.postmark_password),
            "sendgrid": bool(s.sendgrid_public_key),
        }
        if not enabled.get(provider):
            raise NotFound("webhook", provider)
        lower = {k.lower(): v for k, v in headers.items()}
        if provider == "postmark":  # authenticate before reading the body
            webhooks.verify_postmark(
                lower.get("authorization", ""), s.postmark_user, str(s.postmark_password)
            )
        if provider == "sendgrid":
            webhooks.verify_sendgrid(s.sendgrid_public_key, _original_case(lower), body)
        data = _json(body, provider)
        now, addressing = self.clock(), self.addressing
        if provider == "ses":
            return self.record(self._sns(data, now))
        if not isinstance(data, dict) and provider != "sendgrid":
            raise InboundError(f"{provider} webhook: the body is not a JSON object")
        if provider == "mailgun":
            webhooks.verify_mailgun(data, str(s.mailgun_signing_key), now)
            return self.record(webhooks.mailgun_events(data, addressing, now))
        if provider == "postmark":
            return self.record(webhooks.postmark_events(data, addressing, now))
        if not isinstance(data, list):
            raise InboundError("sendgrid webhook: the body is not a JSON list of events")
        return self.record(webhooks.sendgrid_events(data, addressing, now))

    def _sns(self, data: object, now: datetime) -> list[MailEvent]:
        """Verify an SNS message; confirm a subscription, or read the SES notification."""
        from publisher.inbound import webhooks

        s = self.settings.inbound
        if not isinstance(data, dict):
            raise InboundError("ses webhook: the body is not a JSON object")
        cert_url = str(data.get("SigningCertURL", ""))
        webhooks.check_sns_url(cert_url, s.sns_cert_hosts, "SigningCertURL")
        webhooks.verify_sns(data, self._certificate(cert_url), s.ses_topics)
        if data.get("Type") == "SubscriptionConfirmation":
            url = str(data.get("SubscribeURL", ""))
            webhooks.check_sns_url(url, s.sns_cert_hosts, "SubscribeURL")
            self._get(url)
            return []
        if data.get("Type") != "Notification":
            return []
        notification = _json(str(data.get("Message", "")).encode("utf-8"), "ses")
        if not isinstance(notification, dict):
            raise InboundError("ses webhook: the SNS message is not a JSON object")
        return webhooks.ses_events(data, notification, self.addressing, now)

    def _certificate(self, url: str) -> bytes:
        if url not in self._certificates:
            self._certificates[url] = self._get(url)
        return self._certificates[url]

    def _get(self, url: str) -> bytes:
        from publisher.inbound import webhooks

        ca_file = self.settings.inbound.sns_ca_file
        return webhooks.fetch_https(url, self.settings.path(ca_file) if ca_file else None)

    # --- the policy ------------------------------------------------------------------------

    def _resolve(self, event: MailEvent) -> MailEvent:
        """Fill in the subscriber (from the address) or the address (from the subscriber)."""
        subscribers = self.store.subscribers
        if event.subscriber_id is not None:
            try:
                found = subscribers.get(event.subscriber_id)
            except NotFound:
                return event
            return replace(event, email=found.email) if not event.email else event
        if not event.email:
            return event
        try:
            found = subscribers.get_by_email(normalise_address(event.email))
        except (NotFound, PublisherError):
            return event
        return replace(event, subscriber_id=found.id)

    def _apply(self, event: MailEvent) -> Action:
        if event.subscriber_id is None:
            return Action.NOTHING
        try:
            subscriber = self.store.subscribers.get(event.subscriber_id)
        except NotFound:
            return Action.NOTHING
        bounce = self.settings.bounce
        soft = 0
        if event.kind is EventKind.SOFT_BOUNCE:
            since = self.clock() - timedelta(days=bounce.soft_days)
            soft = self.store.events.soft_bounces_since(subscriber.id, since)
        action = decide(event, soft, bounce.soft_limit)
        now = self.clock()
        subs = self.store.subscribers
        if action is Action.UNSUBSCRIBE:
            self.unsubscribe(subscriber)
        elif action in (Action.BOUNCE, Action.COMPLAINT):
            subs.suppress(subscriber.email, reason(event, action, soft), now=now)
            status = SubscriberStatus.BOUNCED
            if action is Action.COMPLAINT:
                status = SubscriberStatus.UNSUBSCRIBED
            if subscriber.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
                subs.set_status(subscriber.id, status, now=now)
        return action

    # --- reading -----------------------------------------------------------------------------

    def subscriber_events(self, email: str) -> tuple[Subscriber, list[MailEvent], str | None]:
        """A subscriber, their mail events (oldest first) and why they are suppressed."""
        subscriber = self.store.subscribers.get_by_email(normalise_address(email))
        events = self.store.events.for_subscriber(subscriber.id)
        return subscriber, events, self.store.subscribers.suppression_reason(subscriber.email)

    def recent_events(self, limit: int = 50) -> list[MailEvent]:
        return self.store.events.listing(limit)

    def edition_events(self, limit: int = 10) -> list[EditionEvents]:
        """The latest editions' bounces, complaints, unsubscribes and rate warnings."""
        editions = self.store.deliveries.status()[-limit:]
        counts = self.store.events.counts_by_edition([e.edition_id for e in editions])
        found = []
        for edition in editions:
            c = counts.get(edition.edition_id, {})
            bounces = c.get(EventKind.HARD_BOUNCE.value, 0) + c.get(EventKind.SOFT_BOUNCE.value, 0)
            complaints = c.get(EventKind.COMPLAINT.value, 0)
            row = EditionEvents(
                edition.edition_key,
                c.get("sent", 0),
                bounces,
                complaints,
                c.get(EventKind.UNSUBSCRIBE.value, 0),
                rate_warnings(c.get("sent", 0), bounces, complaints, self.settings),
            )
            found.append(row)
        return found


def rate_warnings(sent: int, bounces: int, complaints: int, settings: Settings) -> tuple[str, ...]:
    """Gmail's bulk-sender guidance: complaints under 0.1 %, never 0.3 %; bounces under 2 %."""
    if sent <= 0:
        return ()
    warnings = []
    limits = settings.bounce
    if complaints / sent > limits.complaint_warn:
        warnings.append(
            f"complaint rate {complaints / sent:.2%} is over {limits.complaint_warn:.2%}"
        )
    if bounces / sent > limits.bounce_warn:
        warnings.append(f"bounce rate {bounces / sent:.2%} is over {limits.bounce_warn:.2%}")
    return tuple(warnings)


@dataclass(frozen=True)
class FetchReport:
    """What one poll of the IMAP mailbox did."""

    messages: int
    events: ProcessReport


def _json(body: bytes, provider: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InboundError(f"{provider} webhook: the body is not JSON: {exc}") from exc


def _original_case(lower: Mapping[str, str]) -> dict[str, str]:
    """SendGrid's header names as the verifier looks them up."""
    from publisher.inbound import webhooks

    names = (webhooks.SENDGRID_SIGNATURE, webhooks.SENDGRID_TIMESTAMP)
    return {name: lower.get(name.lower(), "") for name in names}
