"""The health report behind ``/healthz``, fed by the parts that run in the service."""

from __future__ import annotations

from collections.abc import Callable

from publisher.core.mailer import Mailer
from publisher.exceptions import PublisherError
from publisher.store import Store
from publisher.types import Frequency

HealthCheck = Callable[[], dict[str, object]]


class Health:
    """The store's state, the last edition, and whatever running parts report."""

    def __init__(self, store: Store, mailer: Mailer) -> None:
        self._store = store
        self._mailer = mailer
        self._checks: dict[str, HealthCheck] = {}

    def add_check(self, name: str, check: HealthCheck) -> None:
        """Add a part's report (the scheduler adds its state and next runs).

        The web shows the health without knowing the scheduler: both only know the core.
        """
        self._checks[name] = check

    def report(self) -> dict[str, object]:
        """The service's state: ``status`` is ``ok`` or ``error``."""
        report: dict[str, object] = {"status": "ok", "database": "ok"}
        try:
            self._store.ping()
            report["last_edition"] = self.last_edition()
        except PublisherError as exc:
            report.update(status="error", database=str(exc))
        for name, check in self._checks.items():
            report[name] = check()
        return report

    def last_edition(self) -> dict[str, object] | None:
        """The newest edition of any kind and its ledger counts (None before the first)."""
        found = [e for f in Frequency if (e := self._store.editions.latest(f)) is not None]
        if not found:
            return None
        edition = max(found, key=lambda e: (e.created_at, e.id))
        return {
            "key": edition.key,
            "status": edition.status,
            "created_at": edition.created_at.isoformat(),
            "articles": len(edition.article_ids),
            "counts": self._mailer.counts(edition.id),
        }
