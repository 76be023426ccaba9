"""Where the files that ship with the package live (the built-in templates).

An installed wheel carries them as ``publisher/templates/{email,web}/``; a source checkout
keeps them in the project's top-level ``templates/`` folder, which ``publisher/templates``
links to (the fallback below serves a checkout whose file system dropped the link).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def builtin_templates_dir() -> Path:
    """The built-in templates: inside the installed package, else the checkout's folder."""
    installed = Path(str(files("publisher").joinpath("templates")))
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / "templates"


TEMPLATES_DIR = builtin_templates_dir()
EMAIL_TEMPLATES_DIR = TEMPLATES_DIR / "email"
WEB_TEMPLATES_DIR = TEMPLATES_DIR / "web"
