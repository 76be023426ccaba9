"""Internationalised addresses go to the domain the reader typed (IDNA 2008, UTS 46).

Python's ``"idna"`` codec is IDNA 2003: it maps ``ß`` to ``ss`` and final sigma ``ς`` to
``σ``, so ``user@straße.de`` was mailed to ``user@strasse.de`` (another domain, maybe
another owner). Header and envelope now share one conversion (IDNA 2008, UTS 46
non-transitional), checked here against a real SMTP server (aiosmtpd) through the CLI. A
non-ASCII local part is sent with SMTPUTF8 when the server offers it and deferred with a
clear reason when it does not; the local part is never changed.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import idna
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from localhost import free_port

from publisher.addresses import normalise_address
from publisher.cli import main
from publisher.delivery import SmtpOptions, SmtpTransport
from publisher.exceptions import RenderError, SubscriberError, TransientDeliveryError
from publisher.types import OutgoingMessage


@dataclass
class Capture:
    """Keeps the envelope and the message of every mail the server accepts."""

    mails: list[tuple[str, list[str], list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.mail_options, envelope.content)
        )
        return "250 OK"


class Server:
    def __init__(self, smtputf8: bool) -> None:
        self.capture = Capture()
        self.port = free_port()
        self.controller = Controller(
            self.capture, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8
        )

    def __enter__(self) -> Server:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


# (typed domain, its IDNA 2008 A-label, what IDNA 2003 made of it)
DEVIATIONS = [
    ("straße.de", "xn--strae-oqa.de", "strasse.de"),
    ("σόλος.gr", "xn--wxaijb9b.gr", "xn--wxaikc6b.gr"),
    ("ශ්‍රී.lk", "xn--10cl1a0b660p.lk", "xn--10cl1a0b.lk"),  # ZWJ after a virama
    ("نامه‌ای.ir", "xn--mgba3gch31f060k.ir", "xn--mgba3gch31f.ir"),  # ZWNJ
]


@pytest.mark.parametrize(("domain", "alabel", "idna2003"), DEVIATIONS)
def test_deviation_characters_keep_their_domain(domain: str, alabel: str, idna2003: str) -> None:
    from publisher.mailheaders import Mailbox, mailbox_value, wire_address

    assert domain.encode("idna").decode() == idna2003  # the old conversion, for the record
    assert wire_address(f"Ann.Lee@{domain}") == f"Ann.Lee@{alabel}"
    assert mailbox_value(Mailbox(f"Ann.Lee@{domain}", "Ann")) == f"Ann <Ann.Lee@{alabel}>"


def test_mixed_script_domain_is_its_own_a_label_never_the_lookalike() -> None:
    from publisher.mailheaders import wire_address

    mixed = "pаypal.example"  # Cyrillic а in a Latin word
    converted = wire_address(f"x@{mixed}")
    assert converted == "x@" + idna.encode(mixed, uts46=True, transitional=False).decode()
    assert converted != "x@paypal.example" and converted.startswith("x@xn--")


def test_the_local_part_is_never_changed() -> None:
    from publisher.mailheaders import wire_address

    assert wire_address("Zoë.MÜLLER@bücher.de") == "Zoë.MÜLLER@xn--bcher-kva.de"
    assert wire_address("Ann.Lee@Example.ORG") == "Ann.Lee@Example.ORG"


def test_a_local_part_over_64_octets_cannot_be_written_or_stored() -> None:
    from publisher.mailheaders import wire_address

    with pytest.raises(RenderError, match="64 octets"):
        wire_address("é" * 33 + "@example.org")  # 33 characters, 66 octets
    with pytest.raises(SubscriberError, match="64 octets"):
        normalise_address("é" * 33 + "@example.org")
    with pytest.raises(SubscriberError, match="64 octets"):
        normalise_address("x" * 65 + "@example.org")
    assert normalise_address("x" * 64 + "@example.org") == "x" * 64 + "@example.org"


def _project(tmp_path: Path, port: int) -> list[str]:
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
    )
    (root / ".env").write_text(
        "PUBLISHER_SECRET_KEY=k-0123456789abcdef0123\n"
        "PUBLISHER_MAIL__TRANSPORT=smtp\n"
        f"PUBLISHER_SMTP__HOST=127.0.0.1\nPUBLISHER_SMTP__PORT={port}\n"
        "PUBLISHER_DIGEST__FROM_ADDRESS=news@news.example.org\n",
        encoding="utf-8",
    )
    article = root / "story.md"
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    article.write_text(f"---\ntitle: Bridge opens\ndate: {now}\n---\nThe bridge.\n")
    runner = CliRunner()
    args = ["--root", str(root)]
    for command in (["init"], ["articles", "add", str(article)]):
        result = runner.invoke(main, [*args, *command])
        assert result.exit_code == 0, result.output
    return args


@pytest.mark.slow
def test_test_copy_to_an_idn_address_reaches_that_domain_in_header_and_envelope(
    tmp_path: Path,
) -> None:
    with Server(smtputf8=False) as server:
        args = _project(tmp_path, server.port)
        result = CliRunner().invoke(main, [*args, "digest", "send", "--to", "user@straße.de"])
        assert result.exit_code == 0, result.output
    ((_sender, rcpts, options, content),) = server.capture.mails
    assert rcpts == ["user@xn--strae-oqa.de"] and "SMTPUTF8" not in options
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert [a.addr_spec for a in message["To"].addresses] == ["user@xn--strae-oqa.de"]


@pytest.mark.slow
def test_a_utf8_local_part_uses_smtputf8_when_offered(tmp_path: Path) -> None:
    with Server(smtputf8=True) as server:
        args = _project(tmp_path, server.port)
        result = CliRunner().invoke(main, [*args, "digest", "send", "--to", "zoë@σόλος.gr"])
        assert result.exit_code == 0, result.output
    ((_sender, rcpts, options, content),) = server.capture.mails
    assert rcpts == ["zoë@xn--wxaijb9b.gr"] and "SMTPUTF8" in options
    assert b"zo\xc3\xab@xn--wxaijb9b.gr" in content.split(b"\r\n\r\n")[0]


def test_a_utf8_local_part_is_deferred_with_a_reason_without_smtputf8() -> None:
    with Server(smtputf8=False) as server:
        transport = SmtpTransport(SmtpOptions("127.0.0.1", server.port, "none", "", "", 5.0))
        try:
            message = OutgoingMessage("news@news.example.org", "zoë@bücher.de", "<m@x>", b"\r\n")
            with pytest.raises(TransientDeliveryError, match="SMTPUTF8"):
                transport.send(message)
        finally:
            transport.close()
    assert server.capture.mails == []
