"""The import rules of the design, pinned: each module imported alone in a fresh interpreter.

Leaves import nothing from the package but ``types``, ``exceptions`` and ``text``; the
domain packages (store, ingest, feeds, digest, delivery, subscribers) import leaves only
and never each other; core imports no web, CLI or scheduler framework.
"""

from __future__ import annotations

import ast
import importlib
import inspect
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
    "i18n",
    "signing_keys",
}
DOMAINS = {
    "store", "ingest", "feeds", "digest", "delivery", "subscribers", "inbound", "engagement"
}  # fmt: skip


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


@pytest.mark.slow
def test_core_imports_no_framework_of_the_edges() -> None:
    modules = loaded_by("publisher.core")
    for framework in ("click", "starlette", "apscheduler", "uvicorn"):
        assert framework not in modules, f"core pulls in {framework}"
    assert not own_parts(modules) & {"cli", "web", "schedule"}


# --- the edges use the facade only -------------------------------------------------------------

EDGES = ("cli", "web", "schedule")
# What an edge may import of the package: the core facade, the settings and the leaves. The
# CLI is also the process entry point, so ``publisher serve`` may start the web app and the
# scheduler (their packages' entry points, not their internals).
EDGE_ALLOWED = {"core", "config", "types", "exceptions", "text"}
CLI_ALSO = {"web", "schedule"}


def imported_parts(path: Path) -> set[str]:
    """First-level package parts a source file imports (``from publisher.x.y import z`` -> x)."""
    parts: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.startswith("publisher."):
                parts.add(name.split(".")[1])
    return parts


@pytest.mark.parametrize(
    "path",
    sorted(p for edge in EDGES for p in (PACKAGE / edge).rglob("*.py")),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_edges_import_only_the_core_config_and_leaves(path: Path) -> None:
    edge = path.relative_to(PACKAGE).parts[0]
    allowed = EDGE_ALLOWED | {edge} | (CLI_ALSO if edge == "cli" else set())
    reached = imported_parts(path) - allowed
    assert not reached, f"{path.name} reaches around the facade into {sorted(reached)}"


# --- the facade's names, pinned (as httpx pins __all__) ---------------------------------------

FACADE = {
    "settings", "feeds", "ops", "now", "close",
    "add_sources", "import_directory", "add_payload", "store_article", "retract_article",
    "articles", "article", "categories",
    "preview_edition", "archive_html", "sent_editions", "send_test_copy", "send_digest",
    "drain", "run_worker", "delivery_status", "delivery_waves",
    "subscribe", "confirm_subscription", "unsubscribe", "update_preferences",
    "subscriber_from_token", "send_settings_link", "signed_path",
    "add_subscriber", "remove_subscriber", "import_subscribers", "export_subscribers",
    "subscribers",
    "health", "add_health_check", "check_writable", "scheduler_store",
    "inbound", "admin",
}  # fmt: skip
FACADE_LIMIT = 40  # later capabilities come as one sub-facade attribute each


def test_the_facade_names_are_pinned_and_few() -> None:
    from publisher.core import Publisher

    public = {name for name in dir(Publisher) if not name.startswith("_")}
    assert public == FACADE, f"added {sorted(public - FACADE)}, removed {sorted(FACADE - public)}"
    assert len(public) <= FACADE_LIMIT


def test_no_service_in_core_inherits_another() -> None:
    """Services get their collaborators in their constructors; the ties show there."""
    checked = set()
    for module_path in sorted((PACKAGE / "core").glob("*.py")):
        module = importlib.import_module(f"publisher.core.{module_path.stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            parents = [b for b in cls.__mro__[1:] if b.__module__.startswith("publisher.core")]
            assert not parents, f"{cls.__name__} inherits {parents}"
            checked.add(cls.__name__)
    assert {"Articles", "Editions", "Mailer", "Subscriptions", "Links", "Health"} <= checked
