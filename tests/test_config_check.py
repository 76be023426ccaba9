"""``publisher config check``: each part checked for real, one line per problem, exit 1.

SMTP is a real aiosmtpd server (the check must send nothing); DNS is a real resolver asking
a small DNS server on loopback that publishes (or not) the DKIM key.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.resolver
import dns.rrset
import pytest
from click.testing import CliRunner
from digest_support import make_dkim_key
from smtp_counter import CountingServer

from publisher.cli import main
from publisher.digest import load_signer
from publisher.digest.dkim_dns import check_published_key

SECRET = "config-check-secret-0123456789abcdef0123456789"


def _check(project: Path, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["--root", str(project), "config", "check"],
        env={"PUBLISHER_SECRET_KEY": SECRET, **env},
    )
    return result.exit_code, result.output


def test_a_ready_setup_passes_and_smtp_gets_a_noop_not_a_message(project: Path) -> None:
    assert CliRunner().invoke(main, ["--root", str(project), "init"], env={}).exit_code == 0
    with CountingServer() as server:
        env = {
            "PUBLISHER_MAIL__TRANSPORT": "smtp",
            "PUBLISHER_SMTP__HOST": "127.0.0.1",
            "PUBLISHER_SMTP__PORT": str(server.port),
        }
        code, output = _check(project, env)
        assert server.handler.received == []
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("ok       settings")
    assert "ok       database: sqlite, schema current" in lines
    assert any(
        line.startswith(f"ok       smtp: 127.0.0.1:{server.port} NOOP: 250") for line in lines
    )
    assert "skipped  dkim: no dkim.private_key_path: mail is not signed" in lines
    assert any(line.startswith("ok       templates: sample digest rendered") for line in lines)


def test_every_problem_gets_its_line_and_exit_1(project: Path, tmp_path: Path) -> None:
    code, output = _check(
        project, {"PUBLISHER_SITE__TIMEZONE": "Mars/Base", "PUBLISHER_SMTP__PORT": "many"}
    )
    assert code == 1
    problems = [line for line in output.splitlines() if line.startswith("problem")]
    assert len(problems) == 2, output
    assert "site.timezone (PUBLISHER_SITE__TIMEZONE, from environment)" in output

    # A database file that was never migrated is reported, and left as it was.
    db = tmp_path / "old.db"
    sqlite3.connect(db).close()
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = refused.getsockname()[1]
    env = {
        "PUBLISHER_DATABASE__URL": f"sqlite:///{db}",
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(port),
    }
    code, output = _check(project, env)
    refused.close()
    assert code == 1
    assert "problem  database: schema is not current: run `publisher init`" in output
    tables = sqlite3.connect(db).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []


# --- DKIM against a real (loopback) DNS server ---------------------------------------------


class TinyDns:
    """Answers TXT queries from ``records`` over UDP on 127.0.0.1; NXDOMAIN otherwise."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            if name in self.records:
                value = self.records[name]
                chunks = " ".join(f'"{value[i : i + 200]}"' for i in range(0, len(value), 200))
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", chunks))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def resolver(self) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.port
        return resolver

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tiny_dns(tmp_path: Path) -> Iterator[tuple[TinyDns, str, str]]:
    ours, record = make_dkim_key(tmp_path)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    _other_key, other_record = make_dkim_key(other_dir)
    server = TinyDns(
        {
            "mail._domainkey.ledger.example.org": record,
            "old._domainkey.ledger.example.org": other_record,
        }
    )
    yield server, str(ours), record
    server.close()


def test_dkim_key_is_compared_with_the_published_record(
    tiny_dns: tuple[TinyDns, str, str],
) -> None:
    server, key, _record = tiny_dns
    found = {}
    for selector in ("mail", "old", "missing"):
        signer = load_signer(key, selector, "", "digest@ledger.example.org")
        found[selector] = check_published_key(signer, server.resolver())
    assert found["mail"] == (True, "mail._domainkey.ledger.example.org publishes the signing key")
    assert found["old"][0] is False and "another key" in found["old"][1]
    assert found["missing"][0] is False and "no DKIM record" in found["missing"][1]


def test_without_a_reachable_resolver_dkim_is_skipped_not_failed(tmp_path: Path) -> None:
    key, _record = make_dkim_key(tmp_path)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # takes queries, never answers
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = silent.getsockname()[1]
    resolver.lifetime = resolver.timeout = 0.3
    signer = load_signer(key, "mail", "", "digest@ledger.example.org")
    try:
        matches, detail = check_published_key(signer, resolver)
    finally:
        silent.close()
    assert matches is None and "DNS not reachable" in detail
