"""``PUBLISHER_DIGEST__LOCAL_DELIVERY``: each reader's daily digest at their own ``daily_at``.

A plain class the mailer asks for the moment each reader's ledger row may go out; the
rule itself (the first ``daily_at`` on the reader's clock at or after the edition's close)
is :func:`publisher.digest.waves.local_delivery_time`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from publisher.config import Settings
from publisher.digest.waves import local_delivery_time
from publisher.types import DeliveryWave, Edition, Frequency, Subscriber


@dataclass(frozen=True)
class LocalDelivery:
    """The site's zone (for readers who set none) and the digest's time of day."""

    site_zone: ZoneInfo
    daily_at: time

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalDelivery | None:
        if not settings.digest.local_delivery:
            return None
        return cls(settings.zone, time.fromisoformat(settings.digest.daily_at))

    def zone_of(self, subscriber: Subscriber) -> ZoneInfo:
        """The reader's zone; the site's when they set none (resolved now, at send time)."""
        return ZoneInfo(subscriber.timezone) if subscriber.timezone else self.site_zone

    def by_zone(self, edition: Edition, zones: Iterable[str]) -> dict[str, datetime]:
        """Readers' time zone name ("" for none: the site's) -> when their copy of a daily
        edition may go out."""
        if edition.frequency is not Frequency.DAILY:
            return {}
        close = edition.window_end
        return {
            name: local_delivery_time(close, self.zone_named(name), self.daily_at)
            for name in {"", *zones}
        }

    def next_close(self, now: datetime) -> datetime:
        """When the next daily edition closes: the site's first ``daily_at`` at or after now."""
        return local_delivery_time(now, self.site_zone, self.daily_at)

    def planned_waves(self, close: datetime, zone_counts: Mapping[str, int]) -> list[DeliveryWave]:
        """The waves of an edition closing at ``close`` for these readers (zone -> how many),
        earliest first; each wave's readers are still all pending."""
        waves: dict[datetime, DeliveryWave] = {}
        for name, readers in sorted(zone_counts.items()):
            moment = local_delivery_time(close, self.zone_named(name), self.daily_at)
            wave = waves.setdefault(moment, DeliveryWave(moment, {"pending": 0}))
            wave.counts["pending"] += readers
            wave.zones[name] = readers
        return [waves[moment] for moment in sorted(waves)]

    def zone_named(self, name: str) -> ZoneInfo:
        """A reader's zone by name; the site's for "" (resolved now, at send time)."""
        return ZoneInfo(name) if name else self.site_zone
