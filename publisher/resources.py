"""Where the files that ship beside the package live (templates, sample articles)."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_DIR / "templates"
EMAIL_TEMPLATES_DIR = TEMPLATES_DIR / "email"
WEB_TEMPLATES_DIR = TEMPLATES_DIR / "web"
