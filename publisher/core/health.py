"""The health report behind /healthz."""

from __future__ import annotations

from collections.abc import Callable

from publisher.core.base import PublisherBase
from publisher.exceptions import PublisherError
from publisher.types import Frequency


class HealthMixin(PublisherBase):
    """Health of the running service, fed by the parts that run in it."""

    def add_health_check(self, name: str, check: Callable[[], dict[str, object]]) -> None:
        """Add a part's report to :meth:`health` (the scheduler adds its state and next runs).

        The web shows the health without knowing the scheduler: both only know the Publisher.
        """
        self._health_checks[name] = check

    def health(self) -> dict[str, object]:
        """The service's state for ``/healthz``: ``status`` is ``ok`` or ``error``."""
        report: dict[str, object] = {"status": "ok", "database": "ok"}
        try:
            self.store.check_writable()
            report["last_edition"] = self.last_edition_summary()
        except PublisherError as exc:
            report.update(status="error", database=str(exc))
        for name, check in self._health_checks.items():
            report[name] = check()
        return report

    def check_writable(self) -> None:
        """StoreError unless writes reach the database this process opened (see Store)."""
        self.store.check_writable()

    def last_edition_summary(self) -> dict[str, object] | None:
        """The newest edition of any kind and its ledger counts (None before the first)."""
        found = [e for f in Frequency if (e := self.store.editions.latest(f)) is not None]
        if not found:
            return None
        edition = max(found, key=lambda e: (e.created_at, e.id))
        return {
            "key": edition.key,
            "status": edition.status,
            "created_at": edition.created_at.isoformat(),
            "articles": len(edition.article_ids),
            "counts": self._edition_counts(edition.id),
        }

    def _edition_counts(self, edition_id: int) -> dict[str, int]:
        """Ledger rows of one edition by state (empty before its rows are made)."""
        status = self.store.deliveries.status([edition_id])
        return dict(status[0].counts) if status else {}
