"""Which folders templates are searched in: the newsroom's own first, then the built-in.

``PUBLISHER_TEMPLATES__DIR`` names a folder with the built-in layout (``email/``,
``web/``); a template found there wins, and one missing there falls back to the built-in
one, so a newsroom restyles its digest or a page by copying just that file.
"""

from __future__ import annotations

from pathlib import Path

from publisher.config import Settings
from publisher.resources import TEMPLATES_DIR


def template_dirs(settings: Settings, kind: str) -> list[Path]:
    """The search path for ``kind`` (``email`` or ``web``), the newsroom's folder first."""
    dirs = [TEMPLATES_DIR / kind]
    if settings.templates.dir:
        dirs.insert(0, settings.path(settings.templates.dir) / kind)
    return dirs
