"""``publisher serve``: the service. One process runs the web app, the scheduler and a worker.

- the web app (uvicorn) answers in the main thread;
- the scheduler (``publisher.schedule``) runs its jobs while this process holds the leader
  lock, and stands by otherwise (``--no-scheduler`` leaves it out);
- a sender worker drains the delivery ledger (``--no-worker`` leaves it out), so mail made
  by another process (``publisher digest send`` elsewhere) is delivered too.

SIGTERM or Ctrl-C stops the web server, then the scheduler (waiting for running jobs) and
the worker (after its current batch; unsent rows stay in the ledger for the next run).

``cli`` is where the process is assembled, so this module is the one place that starts
both the web app and the scheduler; they never import each other, and the scheduler's
state reaches ``/healthz`` through ``Publisher.add_health_check``.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import click
import uvicorn
from starlette.applications import Starlette

from publisher.cli.app import AppContext, main, pass_app
from publisher.cli.listen import bind, port_mismatch
from publisher.cli.logs import configure_logging
from publisher.cli.metrics import start_metrics
from publisher.config import follow_listen, listen_url
from publisher.core import Publisher
from publisher.exceptions import PublisherError
from publisher.schedule import SchedulerService
from publisher.web import create_app, front_door
from publisher.web.server import server_config

log = logging.getLogger("publisher.serve")


@main.command("serve")
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=int, help="Port to listen on (default: web.port).")
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled jobs here.")
@click.option("--no-worker", is_flag=True, help="Do not deliver mail from this process.")
@click.option("--no-web", is_flag=True, help="Answer no HTTP (a scheduler or worker host).")
@click.option("--log-json", is_flag=True, help="Log JSON lines instead of text lines.")
@pass_app
def serve(
    app: AppContext,
    host: str | None,
    port: int | None,
    no_scheduler: bool,
    no_worker: bool,
    no_web: bool,
    log_json: bool,
) -> None:
    """Run the service: web app, scheduler and sender worker, until SIGTERM."""
    host, port = host or app.settings.web.host, port or app.settings.web.port
    sock = None if no_web else bind(host, port)
    settings = app._settings = follow_listen(app.settings, host, port)
    stop_logging = configure_logging(json_lines=log_json)
    proxies = settings.web.trusted_proxies  # a proxy may map ports
    if warning := port_mismatch(settings, port, behind_proxy=bool(proxies)):
        log.warning("%s", warning)
    publisher = app.publisher()
    stop = threading.Event()
    web = create_app(publisher)
    served, metrics = front_door(web), None
    if settings.metrics.listen:
        metrics, served = start_metrics(settings.metrics.listen, publisher.ops, served)
        log.info("metrics: http://%s/metrics", settings.metrics.listen)
    scheduler = None if no_scheduler else SchedulerService(settings, publisher, stop)
    if scheduler is not None:
        publisher.add_health_check("scheduler", scheduler.report)
    else:
        publisher.add_health_check("scheduler", lambda: {"state": "disabled"})
    config = server_config(served, settings, host, port)
    server = uvicorn.Server(config)
    _on_stop_signals(stop)
    watcher = threading.Thread(target=_exit_when, args=(stop, server), daemon=True)
    watcher.start()
    workers = _start_worker(publisher, stop) if not no_worker else []
    stop_receiver = _start_receiver(publisher)
    if scheduler is not None:
        scheduler.start()
    log.info(
        "serving %s on %s (scheduler %s, worker %s)",
        settings.site.title,
        "no address (--no-web)" if sock is None else listen_url(host, port),
        "off" if no_scheduler else "on",
        "off" if no_worker else "on",
    )
    try:
        if sock is None:
            stop.wait()
        else:
            _announce(publisher, web, config.host, config.port)
            _freeze_startup_objects()
            server.run(sockets=[sock])
    finally:
        stop.set()
        if stop_receiver is not None:
            stop_receiver()
        if sock is not None:
            sock.close()
        if metrics is not None:
            metrics.shutdown()
        if scheduler is not None:
            scheduler.stop()
        for worker in workers:
            worker.join(60)
        log.info("stopped")
        stop_logging()


def _freeze_startup_objects() -> None:
    """Keep what start-up made (modules, the app, templates, settings: about 100,000
    objects) out of the garbage collector's full passes. Those objects live as long as the
    process, yet each full pass walked them all: 60-160 ms with the event loop stopped,
    every few seconds under load, the largest part of the pages' 99th percentile."""
    gc.collect()
    gc.freeze()


def _announce(publisher: Publisher, web: Starlette, host: str, port: int) -> None:
    """Log where to look: home page, feeds, archive, and where the mail goes."""
    base = listen_url(host, port)
    log.info("home page: %s/", base)
    for _mime, title, url in publisher.feeds.links():
        log.info("feed: %s %s", url, title)
    for path in _paths(web, ("/archive", "/feeds")):
        log.info("%s: %s%s", path.strip("/").split("/")[0], base, path)
    log.info("health: %s/healthz", base)
    mail = publisher.settings.mail
    if mail.transport == "outbox":
        log.info(
            "outbox: mail is written to %s", publisher.settings.path(mail.outbox_dir).resolve()
        )
    else:
        log.info("mail goes out through %s", mail.transport)


def _paths(web: Starlette, prefixes: tuple[str, ...]) -> list[str]:
    """Parameter-free GET paths of the app under ``prefixes`` (found, not hard-coded)."""
    found = []
    for route in web.routes:
        path = getattr(route, "path", "")
        if path.startswith(prefixes) and "{" not in path:
            found.append(path)
    return found


def _start_worker(publisher: Publisher, stop: threading.Event) -> list[threading.Thread]:
    thread = threading.Thread(
        target=_work, args=(publisher, stop), name="sender-worker", daemon=True
    )
    thread.start()
    return [thread]


def _start_receiver(publisher: Publisher) -> Callable[[], None] | None:
    """Start the inbound LMTP/SMTP receiver when ``inbound.listen`` is set; return its stop."""
    inbound = publisher.settings.inbound
    if not inbound.listen:
        return None
    receiver = publisher.inbound.receiver(inbound.listen, inbound.lmtp)
    receiver.start()
    log.info("inbound %s receiver on %s", "LMTP" if inbound.lmtp else "SMTP", receiver.address)
    return receiver.stop


def _work(publisher: Publisher, stop: threading.Event) -> None:
    """Drain the ledger until ``stop``; a database failure is logged and the loop resumes."""
    delay = 1.0
    while not stop.is_set():
        try:
            report = publisher.run_worker(stop)
        except PublisherError as exc:
            log.warning("sender worker failed, restarting in %.0f s: %s", delay, exc)
            stop.wait(delay)
            delay = min(delay * 2, 60.0)
        except Exception:
            log.exception("sender worker crashed; restarting in %.0f s", delay)
            stop.wait(delay)
            delay = min(delay * 2, 60.0)
        else:
            log.info("sender worker stopped: %d sent, %d deferred", report.sent, report.deferred)
            return


def _on_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop``; uvicorn re-raises them here after its own shutdown."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _exit_when(stop: threading.Event, server: uvicorn.Server) -> None:
    stop.wait()
    server.should_exit = True
