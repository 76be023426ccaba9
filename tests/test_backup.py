"""``publisher backup`` while a send runs, then ``publisher restore`` into a fresh store.

Everything goes through the command line: the source store is filled by ``articles add``
and ``subscribers import``, a real ``digest send`` process delivers to a slow aiosmtpd
server, and the backup is taken while that process is still sending. The restored store
must hold every article, subscriber, edition and ledger row the backup held, and the
ledger must show the send caught mid-way (some rows sent, some not yet), which proves the
copy was taken while another process was writing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import POSTGRES_URL, reset_postgres
from smtp_counter import CountingServer, Faults
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from publisher.cli import main

READERS = 80
SECRET = "backup-test-secret-0123456789abcdef0123456789"


def _project(root: Path, database_url: str, smtp_port: int) -> dict[str, str]:
    (root / "config").mkdir(parents=True)
    (root / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\n', encoding="utf-8"
    )
    return {
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_DATABASE__URL": database_url,
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(smtp_port),
        "PUBLISHER_SMTP__CONNECTIONS": "1",
        "PUBLISHER_MAIL__BATCH_SIZE": "10",
    }


def _cli(root: Path, env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, ["--root", str(root), *args], env=env)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


def _fill(root: Path, env: dict[str, str]) -> None:
    _cli(root, env, "init")
    story = root / "story.md"
    story.write_text("---\ntitle: Backed up\ncategories: [Local]\n---\nBody.\n", "utf-8")
    _cli(root, env, "articles", "import", str(Path("examples/articles").resolve()))
    _cli(root, env, "articles", "add", str(story))
    rows = "".join(f"reader{i}@example.org,Reader {i}\n" for i in range(READERS))
    (root / "list.csv").write_text("email,name\n" + rows, encoding="utf-8")
    _cli(root, env, "subscribers", "import", "--confirmed", str(root / "list.csv"))


def _counts(root: Path, env: dict[str, str]) -> dict[str, object]:
    articles = json.loads(_cli(root, env, "articles", "list", "--json"))
    subscribers = json.loads(_cli(root, env, "subscribers", "list", "--json"))
    status = json.loads(_cli(root, env, "digest", "status", "--json"))
    return {
        "articles": sorted(a["slug"] for a in articles),
        "subscribers": sorted(s["email"] for s in subscribers),
        "editions": {e["edition"]: e["counts"] for e in status},
    }


def _backup_during_send(tmp_path: Path, source_url: str, target_url: str) -> None:
    faults = Faults(slow=1.0, delay=0.02)
    with CountingServer(faults) as server:
        source = tmp_path / "source"
        env = _project(source, source_url, server.port)
        _fill(source, env)
        sender = subprocess.Popen(
            [sys.executable, "-m", "publisher", "--root", str(source), "digest", "send", "--json"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while len(server.handler.received) < 20:
                assert sender.poll() is None, sender.communicate()[0]
                assert time.monotonic() < deadline, "the send never started"
                time.sleep(0.05)
            out = tmp_path / "store.backup"
            _cli(source, env, "backup", "--out", str(out))
            assert out.stat().st_mode & 0o077 == 0  # subscribers' addresses: owner only
            assert sender.poll() is None, "the send ended before the backup: nothing was shown"
        finally:
            output = sender.communicate(timeout=60)[0]
        assert sender.returncode == 0, output
        assert len(server.handler.received) == READERS

    restored = tmp_path / "restored"
    target_env = _project(restored, target_url, server.port)
    result = CliRunner().invoke(
        main, ["--root", str(restored), "restore", str(out)], env=target_env
    )
    assert result.exit_code == 0, result.output

    backed_up, original = _counts(restored, target_env), _counts(source, env)
    assert backed_up["articles"] == original["articles"]
    assert backed_up["subscribers"] == original["subscribers"]
    assert len(original["subscribers"]) == READERS  # type: ignore[arg-type]
    assert backed_up["editions"].keys() == original["editions"].keys()  # type: ignore[attr-defined]
    (edition_counts,) = backed_up["editions"].values()  # type: ignore[attr-defined]
    assert sum(edition_counts.values()) == READERS, edition_counts
    assert 0 < edition_counts["sent"] < READERS, f"not caught mid-send: {edition_counts}"

    again = CliRunner().invoke(main, ["--root", str(restored), "restore", str(out)], env=target_env)
    assert again.exit_code == 1
    assert "not empty" in again.output and "--force" in again.output
    forced = CliRunner().invoke(
        main, ["--root", str(restored), "restore", "--force", str(out)], env=target_env
    )
    assert forced.exit_code == 0, forced.output


@pytest.mark.slow
def test_sqlite_backup_during_a_send_restores_every_row(tmp_path: Path) -> None:
    _backup_during_send(
        tmp_path, f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'new/r.db'}"
    )


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_backup_during_a_send_restores_into_a_new_database(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("PUBLISHER_TEST_POSTGRES_URL not set")
    reset_postgres(POSTGRES_URL)
    url = make_url(POSTGRES_URL)
    fresh = f"{url.database}_restored"
    target = url.set(database=fresh).render_as_string(hide_password=False)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
    try:
        _backup_during_send(tmp_path, POSTGRES_URL, target)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        admin.dispose()


def test_a_file_that_is_not_a_backup_is_refused_by_name(tmp_path: Path) -> None:
    env = {"PUBLISHER_SECRET_KEY": SECRET, "PUBLISHER_DATABASE__URL": f"sqlite:///{tmp_path}/s.db"}
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello", encoding="utf-8")
    result = CliRunner().invoke(main, ["--root", str(tmp_path), "restore", str(bogus)], env=env)
    assert result.exit_code == 1
    assert f"{bogus}: not a backup" in result.output
    assert not (tmp_path / "s.db").exists()
