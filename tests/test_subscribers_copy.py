"""``publisher subscribers import`` on PostgreSQL, where the whole file goes through ``COPY``
into a staging table and a few set-based statements (one transaction for the file).

Through the CLI on the real PostgreSQL; what the import did is read back with
``subscribers export``. The rules are the batched import's: a later line of an address
already in the file is a duplicate of its first line, suppressed addresses are skipped, an
existing subscriber keeps its status and only changes what the file gives, every rejected
row is reported by file and line, and the rows around it are imported.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import POSTGRES_URL, _require_postgres, reset_postgres
from sqlalchemy import create_engine, text
from webkit import KEY, make_settings, outbox_messages, seed_articles

from publisher.cli import main
from publisher.core import make_publisher

pytestmark = pytest.mark.postgres


@pytest.fixture
def root(project: Path) -> Path:
    _require_postgres()
    reset_postgres(POSTGRES_URL)
    (project / ".env").write_text(
        f"PUBLISHER_SECRET_KEY={KEY}\nPUBLISHER_DATABASE__URL={POSTGRES_URL}\n", encoding="utf-8"
    )
    publisher = make_publisher(make_settings(project, POSTGRES_URL), create=True)
    seed_articles(publisher)  # categories "local" and "sport"
    publisher._services.store.subscribers.suppress("blocked@example.org", "550 hard bounce")
    publisher.close()
    return project


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--root", str(root), *args])


def exported(root: Path) -> list[dict[str, str]]:
    result = run(root, "subscribers", "export")
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def big_file(path: Path, rows: int) -> Path:
    """``rows`` readers (lines 2..rows+1) with a bad address, a suppressed one and a
    duplicate of line 7 in another case far down the file."""
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,frequency,categories,language,timezone\n")
        for line in range(2, rows + 2):
            if line == 1_501:
                out.write("not-an-address,Bad,,,,\n")
            elif line == 2_000:
                out.write("Blocked@Example.org,Blocked,,,,\n")
            else:
                cats = ("local", "sport;local", "")[line % 3]
                out.write(f"reader{line}@example.org,Reader {line},daily,{cats},ur,Asia/Karachi\n")
        out.write("READER7@example.org,Again,weekly,,,\n")  # line rows + 2
    return path


@pytest.mark.slow
def test_a_large_file_reports_each_problem_by_line_and_imports_the_rest(root: Path) -> None:
    path = big_file(root / "big.csv", 3_000)
    result = run(root, "subscribers", "import", "--confirmed", str(path))
    assert result.exit_code == 1  # a row was rejected
    lines = result.output.splitlines()
    assert lines[-1] == "2998 imported, 0 updated, 2 skipped, 1 rejected"
    bad = f"{path}:1501: rejected: e-mail address is not valid"
    assert any(line.startswith(bad) for line in lines)
    assert f"{path}:2000: skipped: address is on the suppression list" in lines
    assert f"{path}:3002: skipped: duplicate of line 7" in lines
    rows = exported(root)
    # In file order (ids follow the lines), first line of each address wins.
    assert [r["email"] for r in rows[:3]] == [f"reader{n}@example.org" for n in (2, 3, 4)]
    seventh = next(r for r in rows if r["email"] == "reader7@example.org")
    assert (seventh["name"], seventh["frequency"], seventh["categories"]) == (
        "Reader 7",
        "daily",
        "local;sport",
    )
    assert (seventh["status"], seventh["language"], seventh["timezone"]) == (
        "active",
        "ur",
        "Asia/Karachi",
    )
    assert len(rows) == 2_998 and "blocked@example.org" not in {r["email"] for r in rows}
    assert outbox_messages(root) == []  # --confirmed mails nobody


def test_importing_again_changes_only_what_the_file_changes(root: Path) -> None:
    first = root / "first.csv"
    first.write_text(
        "email,name,frequency,categories,language\n"
        "ann@example.org,Ann,weekly,local;sport,ur\n"
        "bo@example.org,Bo,daily,,\n"
        "cy@example.org,Cy,daily,sport,ar\n",
        encoding="utf-8",
    )
    assert run(root, "subscribers", "import", "--confirmed", str(first)).exit_code == 0
    again = run(root, "subscribers", "import", "--confirmed", str(first))
    assert again.output.splitlines()[-1] == "0 imported, 0 updated, 3 skipped, 0 rejected"
    before = exported(root)
    # A file without frequency or language columns keeps those; empty categories means
    # every category; an empty name keeps the name.
    second = root / "second.csv"
    second.write_text(
        "email,name,categories\nann@example.org,Ann B,local\nbo@example.org,,\n"
        "cy@example.org,,sport\ndee@example.org,Dee,sport\n",
        encoding="utf-8",
    )
    result = run(root, "subscribers", "import", "--confirmed", str(second))
    assert result.output.splitlines()[-1] == "1 imported, 1 updated, 2 skipped, 0 rejected"
    after = {r["email"]: r for r in exported(root)}
    assert (after["ann@example.org"]["name"], after["ann@example.org"]["categories"]) == (
        "Ann B",
        "local",
    )
    assert after["ann@example.org"]["frequency"] == "weekly"
    assert after["ann@example.org"]["language"] == "ur"
    assert after["cy@example.org"] == next(r for r in before if r["email"] == "cy@example.org")
    assert after["dee@example.org"]["categories"] == "sport"


def test_unconfirmed_import_mails_each_new_reader_once(root: Path) -> None:
    path = root / "list.csv"
    path.write_text("email\na@example.org\nb@example.org\nA@example.org\n", encoding="utf-8")
    result = run(root, "subscribers", "import", str(path))
    assert result.output.splitlines()[-1] == "2 imported, 0 updated, 1 skipped, 0 rejected"
    assert f"{path}:4: skipped: duplicate of line 2" in result.output
    sent = [m["To"].addresses[0].addr_spec for m in outbox_messages(root)]
    assert sorted(sent) == ["a@example.org", "b@example.org"]
    assert {r["status"] for r in exported(root)} == {"pending"}


def test_a_file_that_breaks_off_mid_way_writes_nothing(root: Path) -> None:
    """The whole file is one transaction here: undecodable bytes on line 1,202 stop the
    import with that line, and the 1,200 rows before it are not half-imported."""
    path = root / "broken.csv"
    body = "".join(f"r{i}@example.org,R {i}\n" for i in range(1_200))
    path.write_bytes(("email,name\n" + body).encode() + b"bad\xff\xfe@example.org,X\n")
    result = run(root, "subscribers", "import", "--confirmed", str(path))
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {path}:1202: not UTF-8 text")
    assert exported(root) == []


def test_names_with_copy_escapes_arrive_as_written(root: Path) -> None:
    """Rows reach PostgreSQL as lines of COPY's text format written by the import itself,
    where a backslash starts an escape and ``\\N`` means NULL: names holding them, and tabs
    and line breaks (made single spaces), are stored as the reader wrote them."""
    path = root / "escapes.csv"
    path.write_text(
        "email,name\n"
        'a@example.org,"back\\slash \\N \\t"\n'
        "b@example.org,\\N\n"
        'c@example.org,"tab\there"\n'
        'd@example.org,"two\r\nlines"\n'
        "e@example.org,Zoë \u202eevil\n",
        encoding="utf-8",
    )
    result = run(root, "subscribers", "import", "--confirmed", str(path))
    assert result.output.splitlines()[-1] == "5 imported, 0 updated, 0 skipped, 0 rejected"
    names = {r["email"]: r["name"] for r in exported(root)}
    assert names == {
        "a@example.org": "back\\slash \\N \\t",
        "b@example.org": "\\N",
        "c@example.org": "tab here",
        "d@example.org": "two lines",
        "e@example.org": "Zoë \u202eevil",
    }


def test_an_address_signed_up_during_the_import_is_left_to_that_sign_up(root: Path) -> None:
    """New readers go in with a plain INSERT (no per-row conflict check). A sign-up that
    adds one of the file's addresses after the import looked for existing ones makes that
    INSERT fail on the unique address; the import then goes back to its savepoint and
    inserts with ON CONFLICT DO NOTHING: the sign-up's row stays as the reader made it,
    and the file's other rows are imported."""
    path = root / "race.csv"
    path.write_text(
        "email,name,categories\nann@example.org,Ann Import,local\nbo@example.org,Bo,sport\n",
        encoding="utf-8",
    )
    engine = create_engine(POSTGRES_URL)
    outcome: dict[str, object] = {}

    def run_import() -> None:
        publisher = make_publisher(make_settings(root, POSTGRES_URL))
        try:
            with path.open("rb") as handle:
                outcome["report"] = publisher.import_subscribers(handle, str(path), True)
        except Exception as exc:  # reported below, in the test's own thread
            outcome["error"] = exc
        finally:
            publisher.close()

    try:
        with engine.connect() as signup:
            signup.begin()  # a sign-up's transaction, not yet committed
            signup.execute(
                text(
                    "INSERT INTO subscribers (email, name, status, frequency, consent_method, "
                    "consent_ip, created_at, updated_at) VALUES ('ann@example.org', 'Ann Form', "
                    "'pending', 'weekly', 'form', '', now(), now())"
                )
            )
            worker = threading.Thread(target=run_import)
            worker.start()
            waiting = text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO subscribers%'"
            )
            deadline = time.monotonic() + 30
            with engine.connect() as watch:
                while not watch.execute(waiting).scalar_one():
                    watch.rollback()  # the activity view is read once per transaction
                    assert time.monotonic() < deadline, "the import never waited on the sign-up"
                    assert worker.is_alive(), outcome
                    time.sleep(0.05)
            signup.commit()
        worker.join(30)
    finally:
        engine.dispose()
    assert "error" not in outcome, outcome
    report = outcome["report"]
    assert report.summary() == "1 imported, 0 updated, 1 skipped, 0 rejected"  # type: ignore[attr-defined]
    rows = {r["email"]: r for r in exported(root)}
    assert (rows["ann@example.org"]["name"], rows["ann@example.org"]["status"]) == (
        "Ann Form",
        "pending",
    )
    assert rows["ann@example.org"]["categories"] == ""
    assert (rows["bo@example.org"]["status"], rows["bo@example.org"]["categories"]) == (
        "active",
        "sport",
    )
