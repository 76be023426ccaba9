"""Health that tells the truth, and no database made behind the editor's back.

* The SQLite file deleted while serving: ``/healthz`` said ok, subscriptions answered 202
  and the API 201, and all of it vanished at restart. Now ``/healthz`` answers 503 with the
  reason and every write is refused with 503.
* A read-only database: ``/healthz`` said ok and ``/subscribe`` answered 202 storing
  nothing. Now both answer 503.
* Only ``publisher init`` makes a database; any other command on a missing file says
  "no database at PATH: run `publisher init`" and makes nothing.
* A full disk says "disk full", not the savepoint error that followed it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event
from webkit import API_TOKEN, TestClient, make_settings, seed_articles

from publisher.cli import main
from publisher.core import make_publisher
from publisher.delivery import MemoryTransport
from publisher.exceptions import StoreError
from publisher.store import open_store
from publisher.types import ArticleInput
from publisher.web import create_app

ARTICLE = {"title": "Late news", "content_html": "<p>Late.</p>"}


def _db(project: Path) -> Path:
    return project / "var" / "health.db"


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


def _client(project: Path, transport: MemoryTransport) -> Iterator[TestClient]:
    settings = make_settings(project, f"sqlite:///{_db(project)}")
    publisher = make_publisher(settings, transport=transport)
    try:
        with TestClient(create_app(publisher)) as client:
            yield client
    finally:
        publisher.close()


def _init(project: Path) -> None:
    settings = make_settings(project, f"sqlite:///{_db(project)}")
    publisher = make_publisher(settings, create=True)
    seed_articles(publisher)
    publisher.close()


def _writes(client: TestClient) -> list[int]:
    subscribe = client.post("/subscribe", json={"email": "new@example.org"})
    api = client.post(
        "/api/articles", json=ARTICLE, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    return [subscribe.status_code, api.status_code]


def test_a_database_deleted_while_serving_is_reported_and_refuses_writes(
    project: Path, transport: MemoryTransport
) -> None:
    _init(project)
    for client in _client(project, transport):
        assert client.get("/healthz").status_code == 200
        for path in _db(project).parent.glob("health.db*"):
            path.unlink()
        health = client.get("/healthz")
        assert health.status_code == 503
        assert "was deleted while running" in health.json()["database"]
        assert _writes(client) == [503, 503]
        assert "deleted" in client.post("/subscribe", json={"email": "x@example.org"}).text
    assert transport.sent == []
    assert not _db(project).exists()


def _read_only(path: Path) -> None:
    """Read-only even for root: the immutable attribute (chmod does not bind root)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    if shutil.which("chattr") is None:
        pytest.skip("chattr is needed to make a file read-only for root")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"this filesystem has no immutable attribute: {done.stderr!r}")


def _writable_again(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)
    else:
        path.chmod(0o644)


def test_a_read_only_database_is_reported_and_refuses_writes(
    project: Path, transport: MemoryTransport
) -> None:
    _init(project)
    _read_only(_db(project))
    try:
        for client in _client(project, transport):
            health = client.get("/healthz")
            assert health.status_code == 503
            assert "read-only" in health.json()["database"]
            assert health.json()["status"] == "error"
            assert _writes(client) == [503, 503]
    finally:
        _writable_again(_db(project))
    assert transport.sent == []


def test_only_init_makes_a_database(project: Path) -> None:
    (project / ".env").write_text("PUBLISHER_SECRET_KEY=k-0123456789abcdef\n", encoding="utf-8")
    runner = CliRunner()
    root = ["--root", str(project)]
    database = project / "var" / "publisher.db"
    for command in (["subscribers", "list"], ["digest", "status"], ["articles", "list"]):
        result = runner.invoke(main, [*root, *command])
        assert result.exit_code == 1, result.output
        assert f"no database at {database}: run `publisher init`" in result.output
        assert not database.exists()
    assert runner.invoke(main, [*root, "init"]).exit_code == 0
    assert database.exists()
    database.unlink()
    result = runner.invoke(main, [*root, "subscribers", "list"])
    assert result.exit_code == 1 and "no database at" in result.output
    assert not database.exists()


def test_a_full_disk_says_disk_full(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'small.db'}", create=True)
    # A database that may not grow past 60 pages: SQLite answers as on a full disk.
    event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA max_page_count=60"))
    store.engine.dispose()
    body = "<p>" + "x" * 50_000 + "</p>"
    with pytest.raises(StoreError) as caught:
        for n in range(60):
            store.articles.upsert(
                ArticleInput(title=f"t{n}", content_html=body, published_at=datetime.now(UTC))
            )
    store.close()
    assert "disk full" in str(caught.value)
    assert "savepoint" not in str(caught.value).split("disk full")[0]
