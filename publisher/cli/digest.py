"""``publisher digest``: the command group for editions (preview, send, status)."""

from __future__ import annotations

from publisher.cli.app import main


@main.group("digest")
def digest_group() -> None:
    """Preview, send and follow digest editions."""
