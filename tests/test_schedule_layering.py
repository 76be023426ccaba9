"""The edges stay apart: the scheduler and the web app never import each other or the CLI."""

from __future__ import annotations

import pytest
from test_layering import loaded_by, own_parts

pytestmark = pytest.mark.slow  # each test imports the package in fresh interpreters


def test_the_scheduler_imports_neither_web_nor_cli() -> None:
    modules = loaded_by("publisher.schedule")
    assert not own_parts(modules) & {"web", "cli"}
    for framework in ("starlette", "uvicorn", "click"):
        assert framework not in modules, f"the scheduler pulls in {framework}"


def test_the_web_app_imports_neither_scheduler_nor_cli() -> None:
    modules = loaded_by("publisher.web")
    assert not own_parts(modules) & {"schedule", "cli"}
    assert "apscheduler" not in modules
