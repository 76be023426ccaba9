"""The health report behind ``/healthz``, fed by the parts that run in the service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from publisher.core.mailer import Mailer
from publisher.exceptions import PublisherError
from publisher.store import Store
from publisher.types import Frequency

HealthCheck = Callable[[], dict[str, object]]


@dataclass(eq=False)
class Health:
    """The store's state, the last edition, and whatever running parts report."""

    store: Store
    mailer: Mailer
    checks: dict[str, HealthCheck] = field(default_factory=dict)

    def add_check(self, name: str, check: HealthCheck) -> None:
        """Add a part's report (the scheduler adds its state and next runs).

        The web shows the health without knowing the scheduler: both only know the core.
        """
        self.checks[name] = check

    def report(self) -> dict[str, object]:
        """The service's state: ``status`` is ``ok`` or ``error``."""
        report: dict[str, object] = {"status": "ok", "database": "ok"}
        try:
            self.store.check_writable()
            report["last_edition"] = self.last_edition()
        except PublisherError as exc:
            report.update(status="error", database=str(exc))
        for name, check in self.checks.items():
            report[name] = check()
        return report

    def check_writable(self) -> None:
        """StoreError unless writes reach the database this process opened (see Store)."""
        self.store.check_writable()

    def last_edition(self) -> dict[str, object] | None:
        """The newest edition of any kind and its ledger counts (None before the first)."""
        found = [e for f in Frequency if (e := self.store.editions.latest(f)) is not None]
        if not found:
            return None
        edition = max(found, key=lambda e: (e.created_at, e.id))
        return {
            "key": edition.key,
            "status": edition.status,
            "created_at": edition.created_at.isoformat(),
            "started_at": edition.started_at.isoformat() if edition.started_at else None,
            "sent_at": edition.sent_at.isoformat() if edition.sent_at else None,
            "articles": len(edition.article_ids),
            "counts": self.mailer.counts(edition.id),
        }
