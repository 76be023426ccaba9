"""The editor dashboard's service: editors and sessions, and what its pages show and do.

Passwords are hashed with argon2id (argon2-cffi's defaults). A session is a cookie signed
with the secret key that names the editor and a fragment of their password hash, so it
expires after ``admin.session_hours`` and a new password signs every old session out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from publisher.addresses import normalise_address
from publisher.config import WEEKDAYS, Settings, parse_clock
from publisher.core.clock import Clock
from publisher.core.editions import Editions
from publisher.core.engagement import Engagement
from publisher.core.mailer import Mailer
from publisher.exceptions import AdminError, NotFound, PublisherError
from publisher.store import Store
from publisher.types import (
    AdminUser,
    Edition,
    EventKind,
    Frequency,
    MailEvent,
    Subscriber,
    SubscriberStatus,
)

MIN_PASSWORD = 12
GROWTH_DAYS = 90


@dataclass(eq=False)
class Admin:
    """Sign-in, the overview's numbers, sends started, paused and resumed, subscriber care."""

    store: Store
    settings: Settings
    clock: Clock
    editions: Editions
    mailer: Mailer
    engagement: Engagement
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    _sends: dict[int, threading.Thread] = field(default_factory=dict)

    # --- editors and sessions ------------------------------------------------------------

    def add_user(self, email: str, password: str) -> AdminUser:
        """Add an editor (or set a new password); at least 12 characters."""
        address = normalise_address(email)
        if len(password) < MIN_PASSWORD:
            raise AdminError(f"the password must be at least {MIN_PASSWORD} characters", "password")
        return self.store.admins.save(address, self.hasher.hash(password), self.clock())

    def authenticate(self, email: str, password: str) -> AdminUser | None:
        """The editor when the password matches, else None (the same work either way)."""
        try:
            user = self.store.admins.get(normalise_address(email))
        except (NotFound, PublisherError):
            self.hasher.hash(password)  # as slow as a real check: no address probing
            return None
        try:
            self.hasher.verify(user.password_hash, password)
        except (Argon2Error, InvalidHashError):
            return None
        return user

    @property
    def _sessions(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.settings.secret_key, salt="publisher.admin.session")

    def session(self, user: AdminUser) -> str:
        return str(self._sessions.dumps([user.id, user.password_hash[-16:]]))

    def user_of(self, cookie: str) -> AdminUser | None:
        """The editor a session cookie names; None when forged, expired or signed out."""
        if not cookie:
            return None
        try:
            payload = self._sessions.loads(
                cookie, max_age=int(self.settings.admin.session_hours * 3600)
            )
        except BadSignature:
            return None
        if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
            return None
        user = self.store.admins.by_id(payload[0])
        if user is None or user.password_hash[-16:] != payload[1]:
            return None
        return user

    # --- the overview ----------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        subs = self.store.subscribers
        now = self.clock()
        since = (now - timedelta(days=GROWTH_DAYS)).replace(hour=0, minute=0, second=0)
        start, per_day = subs.joined_per_day(since)
        made = dict(per_day)
        growth, total = [], start
        for n in range(GROWTH_DAYS + 1):
            day = (since + timedelta(days=n)).date().isoformat()
            total += made.get(day, 0)
            growth.append((day, total))
        editions = [e for e in self.store.editions.recent(8) if e.status != "skipped"]
        return {
            "states": {s.value: subs.count(s) for s in SubscriberStatus},
            "growth": growth,
            "editions": [self.engagement.report(e.key) for e in editions[:5]],
            "next_sends": self.next_sends(now),
        }

    def next_sends(self, now: datetime) -> list[tuple[str, datetime]]:
        """When the scheduler sends the next daily and weekly editions (site time zone)."""
        zone = self.settings.zone
        at: time = parse_clock(self.settings.digest.daily_at)
        local = now.astimezone(zone)
        daily = datetime.combine(local.date(), at, tzinfo=zone)
        if daily <= local:
            daily += timedelta(days=1)
        weekday = WEEKDAYS.index(self.settings.digest.weekly_on.lower())
        weekly = datetime.combine(local.date(), at, tzinfo=zone)
        weekly += timedelta(days=(weekday - local.weekday()) % 7)
        if weekly <= local:
            weekly += timedelta(days=7)
        return [("daily", daily), ("weekly", weekly)]

    # --- sends -----------------------------------------------------------------------------

    def start_send(self, frequency: Frequency | str) -> Edition:
        """Open the due edition, add its rows and deliver it on a background thread."""
        edition = self.mailer.prepare(Frequency(frequency))
        if edition.status != "skipped":
            self._drain(edition)
        return edition

    def _drain(self, edition: Edition) -> None:
        running = self._sends.get(edition.id)
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(
            target=self.mailer.drain,
            args=(None, [edition.id]),
            name=f"send {edition.key}",
            daemon=True,
        )
        self._sends[edition.id] = thread
        thread.start()

    def pause(self, key: str) -> Edition:
        """No row of the edition is claimed until resumed (messages in flight finish)."""
        edition = self.store.editions.get(key)
        self.store.pauses.pause(edition.id, self.clock())
        return edition

    def resume(self, key: str) -> Edition:
        edition = self.store.editions.get(key)
        self.store.pauses.resume(edition.id)
        self._drain(edition)
        return edition

    def preview_html(self, frequency: Frequency | str, email: str | None) -> str:
        """The next edition as ``email`` (a subscriber) would get it; everything when None."""
        return self.editions.preview(frequency, email or None).html

    def edition_html(self, key: str) -> str:
        """The sent edition as a reader of every category saw it (the archive's copy)."""
        return self.editions.archive_html(key)

    # --- subscribers -----------------------------------------------------------------------

    def find_subscribers(self, term: str) -> list[Subscriber]:
        if not term.strip():
            return self.store.subscribers.listing(limit=50)
        return self.store.subscribers.search(term)

    def subscriber(self, email: str) -> tuple[Subscriber, list[MailEvent], str | None, int]:
        """A subscriber, their events (oldest first), why suppressed, clicks kept for them."""
        subscriber = self.store.subscribers.get_by_email(normalise_address(email))
        events = self.store.events.for_subscriber(subscriber.id)
        reason = self.store.subscribers.suppression_reason(subscriber.email)
        return subscriber, events, reason, self.store.engagement.reader_clicks(subscriber.id)

    def suppress(self, email: str, reason: str, editor: str) -> Subscriber:
        """Nothing more goes to ``email``; the reason and the editor are kept."""
        subscriber = self.store.subscribers.get_by_email(normalise_address(email))
        why = _reason(reason)
        self.store.subscribers.suppress(subscriber.email, f"{why} (by {editor})", self.clock())
        self._event(subscriber, "suppressed", why, editor)
        return self.store.subscribers.get(subscriber.id)

    def reactivate(self, email: str, reason: str, editor: str) -> Subscriber:
        """Lift a suppression and make the subscriber active again, with the reason kept."""
        subscriber = self.store.subscribers.get_by_email(normalise_address(email))
        why = _reason(reason)
        self.store.subscribers.unsuppress(subscriber.email)
        self.store.subscribers.set_status(subscriber.id, SubscriberStatus.ACTIVE, now=self.clock())
        self._event(subscriber, "reactivated", why, editor)
        return self.store.subscribers.get(subscriber.id)

    def _event(self, subscriber: Subscriber, what: str, why: str, editor: str) -> None:
        now = self.clock()
        self.store.events.record(
            [
                MailEvent(
                    key=f"admin:{what}:{subscriber.id}:{now.isoformat()}",
                    kind=EventKind.UNRECOGNISED,
                    source="dashboard",
                    received_at=now,
                    email=subscriber.email,
                    subscriber_id=subscriber.id,
                    status=what,
                    diagnostic=f"{why} (by {editor})",
                )
            ]
        )


def _reason(reason: str) -> str:
    text = " ".join(reason.split())[:300]
    if not text:
        raise AdminError("say why (the reason is kept with the subscriber)", "reason")
    return text
