"""Shared fixtures: real SQLite files, a real PostgreSQL when configured, settings per test.

PostgreSQL tests run against ``PUBLISHER_TEST_POSTGRES_URL`` (``.ci/run`` starts a server
on loopback and sets it). Without it they are skipped locally, and fail under CI so a
missing server can never pass silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from publisher.config import Settings, load_settings
from publisher.core import Clock, Publisher, Transport, make_publisher
from publisher.store import Store, open_store

POSTGRES_URL = os.environ.get("PUBLISHER_TEST_POSTGRES_URL", "")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def another_weekday() -> str:
    """A weekday three days from today, for ``digest.weekly_on``: the weekly digest goes
    at the daily time on its weekday, so tests that fire the daily job now would find a
    weekly edition beside the daily one whenever today is its day."""
    return f"{datetime.now(UTC) + timedelta(days=3):%A}".lower()


def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _require_postgres() -> None:
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("PUBLISHER_TEST_POSTGRES_URL is not set under CI")
        pytest.skip("PUBLISHER_TEST_POSTGRES_URL not set")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind: a SQLite file and a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    _require_postgres()
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url, "https://news.example.org", create=True)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(
        f"sqlite:///{tmp_path / 'store.db'}", "https://news.example.org", create=True
    )
    yield opened
    opened.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder with a config file pointing at test-friendly values."""
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n'
        'timezone = "Europe/London"\n',
        encoding="utf-8",
    )
    return root


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings(project, environ={})


TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"


class PublisherFactory:
    """Builds publishers for a test (the one factory every test module uses) and closes them.

    Settings come from ``settings`` when given, else from the test's project folder with
    ``env`` as the environment (and a secret key); ``store``, ``transport`` and ``clock``
    go to :func:`make_publisher` as they are.
    """

    def __init__(self, project: Path) -> None:
        self.project = project
        self.made: list[Publisher] = []

    def __call__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        **env: str,
    ) -> Publisher:
        if settings is None:
            settings = load_settings(
                self.project, environ={"PUBLISHER_SECRET_KEY": TEST_SECRET, **env}
            )
        made = make_publisher(
            settings, store=store, transport=transport, clock=clock, create=store is None
        )
        self.made.append(made)
        return made

    def close(self) -> None:
        for made in self.made:
            made.close()


@pytest.fixture
def make_pub(project: Path) -> Iterator[PublisherFactory]:
    factory = PublisherFactory(project)
    yield factory
    factory.close()
