"""``/metrics`` for Prometheus, on its own address (``metrics.listen``), off by default.

A separate small HTTP server (prometheus-client's, in a daemon thread) so the figures are
never public by accident behind the site's proxy: it listens only where the operator says,
normally loopback or a private network. What it serves:

- from the store, read through ``publisher.ops`` at each scrape (so every process of a
  cluster shows the same ledger): ledger rows by state, messages by final outcome, the
  progress of editions still sending, rows per table;
- from this process: the send rate between two scrapes, HTTP requests by route, method
  and status with latency histograms, feed rebuilds and their time, the scheduler's next
  run and last success per job.

``serve`` is where the process is assembled, so this is where the server starts and the web
app is wrapped; the web package itself knows nothing of metrics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from publisher.core import Operations
from publisher.exceptions import ConfigError, PublisherError
from publisher.types import FINAL_DELIVERY_STATES

ASGIApp = Any  # (scope, receive, send) -> awaitable; typed loosely to stay framework-free


class PublisherCollector:
    """Figures read at scrape time through ``publisher.ops``."""

    def __init__(self, ops: Operations) -> None:
        self._ops = ops
        self._lock = threading.Lock()
        self._last_sent: tuple[float, int] | None = None
        self._rate = 0.0
        self._last_success: dict[str, float] = {}

    def describe(self) -> Iterable[Metric]:
        return []  # figures come and go with editions; collect() says what there is now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("publisher_store_up", "1 when the store answered this scrape.")
        try:
            yield from self._store_figures()
            up.add_metric([], 1)
        except PublisherError:
            up.add_metric([], 0)
        yield up
        yield from self._feed_figures()
        yield from self._scheduler_figures()

    def _store_figures(self) -> Iterator[Metric]:
        totals = self._ops.ledger_totals()
        rows = GaugeMetricFamily(
            "publisher_ledger_rows", "Delivery ledger rows by state.", labels=["state"]
        )
        outcomes = CounterMetricFamily(
            "publisher_messages", "Messages by final outcome (ledger).", labels=["outcome"]
        )
        for state, count in totals.items():
            rows.add_metric([state], count)
            if state in FINAL_DELIVERY_STATES:
                outcomes.add_metric([state], count)
        yield rows
        yield outcomes
        yield self._send_rate(totals["sent"])
        yield from self._edition_figures()
        events = CounterMetricFamily(
            "publisher_inbound_events",
            "Mail that came back (bounces, complaints, unsubscribes ...), by kind.",
            labels=["kind"],
        )
        for kind, count in self._ops.inbound_events().items():
            events.add_metric([kind], count)
        yield events
        tables = GaugeMetricFamily("publisher_store_rows", "Rows per table.", labels=["table"])
        for table, count in self._ops.row_counts().items():
            tables.add_metric([table], count)
        yield tables

    def _send_rate(self, sent: int) -> Metric:
        """Messages sent per second between the last two scrapes (any process's sends)."""
        now = time.monotonic()
        with self._lock:
            if self._last_sent is not None and now > self._last_sent[0]:
                self._rate = max(0.0, (sent - self._last_sent[1]) / (now - self._last_sent[0]))
            self._last_sent = (now, sent)
            rate = self._rate
        gauge = GaugeMetricFamily(
            "publisher_send_rate_messages_per_second",
            "Messages sent per second between the last two scrapes.",
        )
        gauge.add_metric([], rate)
        return gauge

    def _edition_figures(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "publisher_edition_rows",
            "Ledger rows of editions still sending (and the newest) by state.",
            labels=["edition", "state"],
        )
        progress = GaugeMetricFamily(
            "publisher_edition_progress_ratio",
            "Share of an edition's rows in a final state (sent, failed, suppressed).",
            labels=["edition"],
        )
        for status in self._ops.edition_progress():
            for state, count in status.counts.items():
                rows.add_metric([status.edition_key, state], count)
            done = status.total - status.unfinished
            progress.add_metric([status.edition_key], done / status.total if status.total else 1)
        yield rows
        yield progress

    def _feed_figures(self) -> Iterator[Metric]:
        builds, seconds = self._ops.feed_builds()
        count = CounterMetricFamily("publisher_feed_builds", "Feed rebuilds by this process.")
        count.add_metric([], builds)
        spent = CounterMetricFamily(
            "publisher_feed_build_seconds", "Seconds this process spent rebuilding feeds."
        )
        spent.add_metric([], seconds)
        yield count
        yield spent

    def _scheduler_figures(self) -> Iterator[Metric]:
        report = self._ops.scheduler_report()
        next_run = GaugeMetricFamily(
            "publisher_scheduler_next_run_timestamp_seconds",
            "When each scheduled job runs next (Unix time).",
            labels=["job"],
        )
        success = GaugeMetricFamily(
            "publisher_scheduler_last_success_timestamp_seconds",
            "When each scheduled job last succeeded in this process (Unix time).",
            labels=["job"],
        )
        jobs = report.get("jobs", [])
        for job in jobs if isinstance(jobs, list) else []:
            name = str(job["id"])
            if job.get("next_run_utc"):
                next_run.add_metric([name], _timestamp(job["next_run_utc"]))
            last = job.get("last_run")
            if isinstance(last, dict) and last.get("ok"):
                self._last_success[name] = _timestamp(str(last["finished_at"]))
            if name in self._last_success:
                success.add_metric([name], self._last_success[name])
        yield next_run
        yield success


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class HttpMetrics:
    """ASGI wrapper: requests by route template, method and status, with latencies.

    The route label is the route's template (``/archive/{key}``), never the raw path, so
    the number of series stays bounded whatever clients ask for.
    """

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        labels = ["route", "method", "status"]
        self.requests = Counter(
            "publisher_http_requests", "HTTP requests served.", labels, registry=registry
        )
        self.latency = Histogram(
            "publisher_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            labels,
            registry=registry,
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            labels = (route, scope.get("method", ""), str(status))
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - started)


def start_metrics(listen: str, ops: Operations, app: ASGIApp) -> tuple[WSGIServer, ASGIApp]:
    """Serve the figures on ``listen`` (HOST:PORT); return the server and the wrapped app."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    registry = CollectorRegistry()
    registry.register(PublisherCollector(ops))
    wrapped = HttpMetrics(app, registry)
    try:
        server, _thread = start_http_server(int(port), addr=host, registry=registry)
    except OSError as exc:
        message = f"metrics.listen {listen}: cannot listen there: {exc.strerror}"
        raise ConfigError([message]) from exc
    return server, wrapped
