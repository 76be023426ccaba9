"""The root command group, the shared context, and the translation of errors to one line."""

from __future__ import annotations

import atexit
import gc
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from publisher.config import Settings, load_settings
from publisher.core import Publisher, make_publisher
from publisher.exceptions import PublisherError

# At exit the interpreter's last garbage collection walked every object of the ~1,000
# modules a command imports (about 95,000): `python -c "import publisher.cli"` took
# 0.78-0.85 s, 0.66-0.69 s with this, about a seventh of the fixed cost of a `digest
# send`. The collector skips frozen objects; those without reference cycles are still
# freed as their modules are cleared, the rest go with the process. Nothing here relies
# on the collector at exit: the store, the log writer (``logs.py``) and the sender close
# explicitly.
atexit.register(gc.freeze)


@dataclass
class AppContext:
    """Settings are read once per invocation; the Publisher (and the store) only on demand."""

    root: Path | None
    _settings: Settings | None = None
    _publisher: Publisher | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.root)
            for warning in self._settings.warnings:
                click.echo(f"warning: {warning}", err=True)
        return self._settings

    def publisher(self, create: bool = False) -> Publisher:
        if self._publisher is None:
            self._publisher = make_publisher(self.settings, create=create)
            self._closers.append(self._publisher.close)
        return self._publisher

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to standard error and exit non-zero."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class PublisherGroup(click.Group):
    """A group that turns any PublisherError into one line and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PublisherError as exc:
            fail(str(exc).replace("\n", " "))
        except KeyboardInterrupt:
            fail("interrupted", 130)


@click.group(cls=PublisherGroup)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PUBLISHER_ROOT",
    help="Project folder holding config/, .env and var/ (default: current folder).",
)
@click.version_option(package_name="publisher")
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """Newsletter and syndication publisher: articles in, feeds and digests out."""
    app = AppContext(root)
    ctx.obj = app
    ctx.call_on_close(app.close)


pass_app = click.make_pass_decorator(AppContext)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))
