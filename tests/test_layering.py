"""The import rules of the design, pinned: each module imported alone in a fresh interpreter.

Leaves import nothing from the package but ``types``, ``exceptions`` and ``text``; the
domain packages (store, ingest, feeds, digest, delivery, subscribers) import leaves only
and never each other; core imports no web, CLI or scheduler framework.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "publisher"
LEAVES = {
    "types",
    "exceptions",
    "text",
    "tokens",
    "addresses",
    "resources",
    "html_policy",
    "mailheaders",
}
DOMAINS = {"store", "ingest", "feeds", "digest", "delivery", "subscribers"}


def loaded_by(module: str) -> set[str]:
    code = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, module], capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


def own_parts(modules: set[str]) -> set[str]:
    """The first-level parts of the package that were imported (``publisher.x.y`` -> x)."""
    return {m.split(".")[1] for m in modules if m.startswith("publisher.") and m.count(".") >= 1}


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_import_nothing_but_types_exceptions_and_text(leaf: str) -> None:
    assert own_parts(loaded_by(f"publisher.{leaf}")) <= {leaf, "types", "exceptions", "text"}


@pytest.mark.parametrize(
    "domain", sorted(d for d in DOMAINS if (PACKAGE / d / "__init__.py").exists())
)
def test_domain_packages_import_leaves_only(domain: str) -> None:
    parts = own_parts(loaded_by(f"publisher.{domain}"))
    assert parts <= LEAVES | {domain}, f"{domain} imports {sorted(parts - LEAVES - {domain})}"


def test_core_imports_no_framework_of_the_edges() -> None:
    modules = loaded_by("publisher.core")
    for framework in ("click", "starlette", "apscheduler", "uvicorn"):
        assert framework not in modules, f"core pulls in {framework}"
    assert not own_parts(modules) & {"cli", "web", "schedule"}
