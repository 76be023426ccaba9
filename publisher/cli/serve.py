"""``publisher serve``: run the web service (and, later, the scheduler and a worker)."""

from __future__ import annotations

import click
import uvicorn

from publisher.cli.app import AppContext, main, pass_app
from publisher.web import create_app


@main.command("serve")
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=int, help="Port to listen on (default: web.port).")
@pass_app
def serve(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the web app: feeds, subscription pages, archive and API."""
    settings = app.settings
    web = create_app(app.publisher())
    uvicorn.run(
        web,
        host=host or settings.web.host,
        port=port or settings.web.port,
        log_level="info",
    )
