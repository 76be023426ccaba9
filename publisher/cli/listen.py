"""Where ``serve`` listens: the socket bound up front, and first-run traps around it.

Binding before anything else starts means a busy port is one line and a non-zero exit,
not a screen of URLs followed by uvicorn's "address already in use".
"""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit

from publisher.config import Settings
from publisher.exceptions import ConfigError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a busy or forbidden port is a ConfigError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            message = (
                f"port {port} on {host} is already in use by another program; choose another "
                f"with `publisher serve --port N` or PUBLISHER_WEB__PORT=N"
            )
            raise ConfigError([message]) from exc
        raise ConfigError([f"cannot listen on {host}:{port}: {exc.strerror}"]) from exc


def port_mismatch(settings: Settings, port: int, behind_proxy: bool) -> str | None:
    """A warning when ``site.url`` names another port than the one bound and no proxy is
    configured in between: every feed and mail link would point at nothing."""
    if "site.url" not in settings.sources or behind_proxy:
        return None
    parts = urlsplit(settings.site.url)
    url_port = parts.port or (443 if parts.scheme == "https" else 80)
    if url_port == port:
        return None
    return (
        f"site.url ({settings.site.url}) names port {url_port} but serve listens on {port} "
        f"and no proxy is configured: links in feeds and mail will point at port {url_port}"
    )
