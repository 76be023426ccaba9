"""``publisher subscribers`` end to end through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from webkit import KEY, make_settings, outbox_messages, seed_articles

from publisher.cli import main
from publisher.core import Publisher, make_publisher
from publisher.store import Store
from publisher.types import Frequency, SubscriberStatus


@pytest.fixture
def root(project: Path, database_url: str) -> Path:
    """A project whose .env names the test database and a secret key, with two categories."""
    (project / ".env").write_text(
        f"PUBLISHER_SECRET_KEY={KEY}\nPUBLISHER_DATABASE__URL={database_url}\n", encoding="utf-8"
    )
    publisher = make_publisher(make_settings(project, database_url), create=True)
    seed_articles(publisher)
    publisher.close()
    return project


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(root), *args])


def store_of(root: Path) -> Publisher:
    url = (root / ".env").read_text().split("PUBLISHER_DATABASE__URL=")[1].strip()
    return make_publisher(make_settings(root, url))


def test_add_confirmed_and_pending_list_and_remove(root: Path) -> None:
    ok = run(
        root,
        "subscribers",
        "add",
        "Ann@Example.org",
        "--name",
        "Ann",
        "--confirmed",
        "--frequency",
        "weekly",
        "--categories",
        "local,sport",
    )
    assert ok.exit_code == 0, ok.output
    pending = run(root, "subscribers", "add", "bo@example.org")
    assert pending.exit_code == 0 and "confirmation mail sent" in pending.output
    assert len(outbox_messages(root)) == 1
    listed = json.loads(run(root, "subscribers", "list", "--json").output)
    assert [(s["email"], s["status"]) for s in listed] == [
        ("ann@example.org", "active"),
        ("bo@example.org", "pending"),
    ]
    assert listed[0]["consent_method"] == "cli" and listed[0]["consent_at"]
    assert listed[0]["categories"] == ["local", "sport"]
    only = json.loads(run(root, "subscribers", "list", "--status", "pending", "--json").output)
    assert [s["email"] for s in only] == ["bo@example.org"]
    assert "ann@example.org" in run(root, "subscribers", "list").output
    again = run(root, "subscribers", "add", "ANN@example.org")
    assert again.exit_code == 1 and "already subscribed" in again.output
    removed = run(root, "subscribers", "remove", "ann@example.org")
    assert removed.exit_code == 0
    missing = run(root, "subscribers", "remove", "ann@example.org")
    assert missing.exit_code == 1 and "no subscriber" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-address"], "not valid"),
        (["a@example.org", "--frequency", "hourly"], "frequency"),
        (["a@example.org", "--categories", "nope"], "unknown category"),
        (["a@example.org\r\nBcc: x@example.org"], "control characters"),
    ],
)
def test_add_bad_input_is_one_line(root: Path, args: list[str], message: str) -> None:
    result = run(root, "subscribers", "add", *args)
    assert result.exit_code == 1
    assert message in result.output and result.output.count("\n") == 1
    publisher = store_of(root)
    assert publisher._services.store.subscribers.count() == 0
    publisher.close()


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_import_reports_imported_updated_skipped_and_rejected_lines(root: Path) -> None:
    publisher = store_of(root)
    publisher._services.store.subscribers.add("old@example.org", status=SubscriberStatus.ACTIVE)
    publisher._services.store.subscribers.add(
        "gone@example.org", status=SubscriberStatus.UNSUBSCRIBED
    )
    publisher._services.store.subscribers.suppress("blocked@example.org", "550 hard bounce")
    data = (
        "\ufeffemail,name,frequency,categories\n"
        "new@example.org,New,weekly,sport\n"  # line 2
        "old@example.org,Old Name,,\n"  # line 3: updated
        "NEW@example.org,Dup,,\n"  # line 4: duplicate
        "blocked@example.org,,,\n"  # line 5: suppressed
        "two@@example.org,,,\n"  # line 6: rejected
        '"quoted@example.org","Multi\nLine",daily,\n'  # lines 7-8
        "gone@example.org,Back?,,\n"  # line 9: status kept
        "x@example.org,,,nope\n"  # line 10: unknown category
    )
    path = write(root / "list.csv", data)
    result = run(root, "subscribers", "import", str(path))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "2 imported, 2 updated, 2 skipped, 2 rejected"
    assert f"{path}:4: skipped: duplicate of line 2" in lines
    assert f"{path}:5: skipped: address is on the suppression list" in lines
    assert any(
        line.startswith(f"{path}:6: rejected: e-mail address is not valid") for line in lines
    )
    assert f"{path}:10: rejected: unknown category: nope" in lines
    subs = publisher._services.store.subscribers
    new = subs.get_by_email("new@example.org")
    assert (new.status, new.frequency, new.categories) == (
        SubscriberStatus.PENDING,
        Frequency.WEEKLY,
        ("sport",),
    )
    assert new.consent_method == "import"
    assert subs.get_by_email("quoted@example.org").name == "Multi Line"
    assert subs.get_by_email("old@example.org").name == "Old Name"
    assert subs.get_by_email("gone@example.org").status is SubscriberStatus.UNSUBSCRIBED
    sent = {m["To"].addresses[0].addr_spec for m in outbox_messages(root)}
    assert sent == {"new@example.org", "quoted@example.org"}
    # Importing the same file again changes nothing and mails nobody.
    again = run(root, "subscribers", "import", str(path))
    assert again.output.splitlines()[-1] == "0 imported, 0 updated, 6 skipped, 2 rejected"
    assert len(outbox_messages(root)) == 2
    publisher.close()


def test_confirmed_import_records_consent_and_sends_nothing(root: Path) -> None:
    path = write(root / "ok.csv", "email,name\na@example.org,A\nb@example.org,B\n")
    result = run(root, "subscribers", "import", "--confirmed", str(path))
    assert result.exit_code == 0 and "2 imported" in result.output
    publisher = store_of(root)
    for sub in publisher._services.store.subscribers.listing():
        assert sub.status is SubscriberStatus.ACTIVE
        assert sub.consent_method == "import" and sub.consent_at is not None
    assert outbox_messages(root) == []
    publisher.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"email;name\na@example.org;A\n", "wrong delimiter"),
        (b"a@example.org,A\n", "missing header"),
        (bytes(range(256)) * 20, "binary"),
        (b"", "empty"),
    ],
)
def test_unreadable_files_are_one_line_and_store_nothing(
    root: Path, content: bytes, message: str
) -> None:
    path = write(root / "bad.csv", content)
    result = run(root, "subscribers", "import", str(path))
    assert result.exit_code == 1 and message in result.output
    assert result.output.startswith(f"error: {path}")
    missing = run(root, "subscribers", "import", str(root / "nope.csv"))
    assert missing.exit_code == 1 and "cannot read" in missing.output
    publisher = store_of(root)
    assert publisher._services.store.subscribers.count() == 0
    publisher.close()


def test_export_round_trips_through_import(root: Path, tmp_path: Path) -> None:
    assert (
        run(
            root,
            "subscribers",
            "add",
            "a@example.org",
            "--name",
            "=1+1",
            "--confirmed",
            "--categories",
            "sport",
        ).exit_code
        == 0
    )
    assert run(root, "subscribers", "add", "b@example.org").exit_code == 0
    out = run(root, "subscribers", "export")
    table = list(csv.reader(io.StringIO(out.output)))
    assert table[0][:5] == ["email", "name", "status", "frequency", "categories"]
    assert table[1][:5] == ["a@example.org", "'=1+1", "active", "daily", "sport"]
    target = tmp_path / "export.csv"
    assert run(root, "subscribers", "export", str(target)).exit_code == 0
    publisher = store_of(root)
    publisher._services.store.subscribers.remove(
        publisher._services.store.subscribers.get_by_email("a@example.org").id
    )
    publisher.close()
    back = run(root, "subscribers", "import", "--confirmed", str(target))
    assert back.output.splitlines()[-1] == "1 imported, 0 updated, 1 skipped, 0 rejected"
    publisher = store_of(root)
    restored = publisher._services.store.subscribers.get_by_email("a@example.org")
    assert (restored.name, restored.categories) == ("=1+1", ("sport",))
    publisher.close()


@pytest.mark.slow
def test_import_100000_rows_in_batches(tmp_path: Path) -> None:
    """The issue's 100,000-row file, on SQLite: every row counted, duplicates found across
    batches through the store (constant memory: no set of every address is kept)."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'big.db'}")
    publisher = make_publisher(settings, create=True)
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,frequency\n")
        for i in range(100_000):
            out.write(f"reader{i}@example.org,Reader {i},{'weekly' if i % 7 == 0 else 'daily'}\n")
        out.write("reader5@example.org,Again,\n")  # a duplicate far from its first line
    started = time.perf_counter()
    with path.open("rb") as handle:
        report = publisher.import_subscribers(handle, str(path), confirmed=True)
    elapsed = time.perf_counter() - started
    assert (report.imported, len(report.rejected)) == (100_000, 0)
    assert [(r.line, r.reason) for r in report.skipped] == [
        (100_002, "duplicate: address already in this file")
    ]
    assert publisher._services.store.subscribers.count(SubscriberStatus.ACTIVE) == 100_000
    assert elapsed < 120  # ~7 s on 2 idle cores; generous for a loaded CI machine
    publisher.close()


def test_store_level_import_on_both_databases(store: Store) -> None:
    from datetime import UTC, datetime

    from publisher.store.subscribers import ImportItem

    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    items = [
        ImportItem(2, "a@example.org", "A", Frequency.WEEKLY, ("x", "y")),
        ImportItem(3, "b@example.org"),
    ]
    outcome = store.subscribers.import_batch(items, SubscriberStatus.ACTIVE, "import", now)
    assert [e for _, e, _ in outcome.created] == ["a@example.org", "b@example.org"]
    assert store.subscribers.get_by_email("a@example.org").categories == ("x", "y")
    again = store.subscribers.import_batch(items[:1], SubscriberStatus.ACTIVE, "import", now)
    assert again.skipped == [(2, "duplicate: address already in this file")]
    later = datetime(2026, 11, 28, tzinfo=UTC)
    changed = [ImportItem(5, "a@example.org", "A2", None, ())]
    third = store.subscribers.import_batch(changed, SubscriberStatus.ACTIVE, "import", later)
    assert third.updated == 1
    assert store.subscribers.get_by_email("a@example.org").categories == ()
    assert [s.email for s in store.subscribers.iter_all(batch=1)] == [
        "a@example.org",
        "b@example.org",
    ]


def test_failed_confirmation_mails_are_reported_by_line(root: Path) -> None:
    import shutil

    shutil.rmtree(root / "var" / "outbox", ignore_errors=True)
    (root / "var").mkdir(exist_ok=True)
    (root / "var" / "outbox").write_text("a file where the outbox folder should be")
    path = write(root / "list.csv", "email\na@example.org\nb@example.org\n")
    result = run(root, "subscribers", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: imported, but the confirmation mail failed: cannot write" in result.output
    assert result.output.splitlines()[-1].endswith(", 2 confirmation mail(s) failed")
    single = run(root, "subscribers", "add", "c@example.org")
    assert single.exit_code == 1 and "was added (pending)" in single.output
    publisher = store_of(root)
    assert publisher._services.store.subscribers.count(SubscriberStatus.PENDING) == 3
    publisher.close()


def test_remove_keeps_the_ledger_by_erasing_in_place(store: Store) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from publisher.store.schema import deliveries

    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    kept = store.subscribers.add("kept@example.org", name="Kept", status=SubscriberStatus.ACTIVE)
    gone = store.subscribers.add("gone@example.org")
    edition = store.editions.open("daily/2026-11-27", Frequency.DAILY, now, [], now=now)
    with store.engine.begin() as conn:
        conn.execute(
            insert(deliveries).values(
                edition_id=edition.id,
                subscriber_id=kept.id,
                state="sent",
                created_at=now,
                updated_at=now,
            )
        )
    assert store.subscribers.remove(gone.id) is True
    assert store.subscribers.remove(kept.id, now=now) is False
    erased = store.subscribers.get(kept.id)
    assert erased.email == f"erased-{kept.id}@erased.invalid"
    assert (erased.name, erased.status) == ("", SubscriberStatus.UNSUBSCRIBED)
    assert [s.email for s in store.subscribers.listing()] == [erased.email]
