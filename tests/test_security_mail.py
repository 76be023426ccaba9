"""Every header of every outgoing mail is written from literal text (issue: header injection).

A subscriber name (or a site title) may be an RFC 2047 encoded word carrying CR LF and a
``Bcc:`` line, or hold CR, LF, NEL, U+2028/2029, quotes, commas, angle brackets, ``@``,
right-to-left text, or be very long. Whatever it holds, each mail the publisher sends (the
digest, the editor's test copy, the confirmation and the settings link) must parse with
``email.policy.default`` into exactly the expected header names, one To address equal to
the reader's, the name shown as the literal (one-line) text it was, and the expected body.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from email.header import decode_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from digest_sample import sample_recipient
from digest_support import parse, parts, render_sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webkit import make_settings, seed_articles

from publisher.cli import main
from publisher.core import make_publisher
from publisher.core.service_mails import ServiceMails
from publisher.delivery import MemoryTransport
from publisher.digest import EmailRenderer
from publisher.exceptions import SubscriberError
from publisher.resources import EMAIL_TEMPLATES_DIR
from publisher.subscribers import ConfirmationMail, SettingsLinkMail, service_message
from publisher.text import isolate, one_line
from publisher.types import Subscriber

MAX_NAME = 64  # display names are cut to 64 characters
NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
SEEDED_DAY = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # the day webkit's articles appear
READER = "reader42@example.com"
SITE = "https://news.example.org"


def _b64_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


HOSTILE = [
    "=?utf-8?q?Eve=0D=0ABcc:_victim@evil.example=0D=0AReply-To:_x@evil.example?=",
    _b64_word("Eve\r\nBcc: victim@evil.example\r\n\r\nattacker body"),
    '=?utf-8?q?"a"_<x@evil.example>,_b?= <y@evil.example>',
    "undisclosed-recipients: victim@evil.example;",
    "Eve\r\nBcc: spy@evil.example",
    "line\x85next\u2028sep\u2029para",
    '"O\'Neil", Zoë <x@y>',
    "\u202eאבג مرحبا \u202c",
    "A" * 500,
    '\\"\\',
]
PIECES = st.sampled_from(
    [
        "\r", "\n", "\r\n", "\x85", "\u2028", "\u2029", "\x00", "\t", '"', "'", ",", ";",
        ":", "<", ">", "@", "(", ")", "\\", "=?", "?=", "=?utf-8?q?", "=0D=0A", "Bcc: ",
        "victim@evil.example", "Zoë", "שלום", "مرحبا", "\u202e", " ", "  ", "x" * 90,
    ]
)  # fmt: skip
NAMES = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=200),
    st.lists(st.one_of(PIECES, st.text(max_size=8), st.sampled_from(HOSTILE)), max_size=10).map(
        "".join
    ),
)


def check_message(data: bytes, names: list[str], to: str, shown: str) -> EmailMessage:
    """Parse ``data`` as a reader would and hold it to the rules of the module docstring."""
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    message = parse(data)
    assert list(message.keys()) == names
    assert not message.defects
    addresses = message["To"].addresses
    assert len(addresses) == 1 and addresses[0].addr_spec == to
    assert shown_name(head, "To", addresses[0].display_name) == one_line(shown, MAX_NAME)
    return message


def shown_name(head: bytes, field: str, parsed: str) -> str:
    """The display name a reader shows. Encoded words are decoded by RFC 2047 (whitespace
    between adjacent words dropped, which ``email.policy.default`` does not do in phrases)."""
    lines = head.decode("utf-8").split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{field}: "))
    raw = lines[start][len(field) + 2 :]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        raw += line
    phrase = raw.rpartition("<")[0].strip() if raw.endswith(">") else ""
    if not phrase.startswith("=?"):
        return parsed
    return "".join(
        part.decode(charset or "ascii") if isinstance(part, bytes) else part
        for part, charset in decode_header(phrase)
    )


SERVICE_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
]


MAILS = ServiceMails(EmailRenderer(EMAIL_TEMPLATES_DIR))


def confirmation_message(
    mail: ConfirmationMail, now: datetime, extra: list[Any] | None = None
) -> tuple[str, bytes]:
    return service_message(mail, MAILS.confirmation(mail, "en"), now, extra or ())


def confirmation(name: str, site: str = "Example News") -> bytes:
    mail = ConfirmationMail(
        "news@news.example.org", "", READER, name, site, SITE, f"{SITE}/confirm/tok", 7
    )
    return confirmation_message(mail, NOW)[1]


def settings_link(name: str, site: str = "Example News") -> bytes:
    mail = SettingsLinkMail(
        "news@news.example.org",
        "",
        READER,
        name,
        site,
        SITE,
        f"{SITE}/preferences/p",
        f"{SITE}/unsubscribe/u",
    )
    return service_message(mail, MAILS.settings_link(mail, "en"), NOW)[1]


def digest(name: str) -> bytes:
    edition = render_sample(subscribers=[Subscriber(42, READER)])
    return edition.message_for(sample_recipient(42, name)).data


_DIGEST = render_sample(subscribers=[Subscriber(42, READER)])
DIGEST_HEADERS = list(parse(_DIGEST.message_for(sample_recipient(42)).data).keys())


@pytest.mark.slow  # the mail is rendered and inlined (premailer) per example
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_confirmation_mail_takes_any_name_as_literal_text(name: str) -> None:
    data = confirmation(name)
    message = check_message(data, SERVICE_HEADERS, READER, name)
    text, _html = parts(data)
    greeting = isolate(one_line(name, MAX_NAME), "ltr")  # a right-to-left name: isolated
    assert text.startswith(f"Hello {greeting}," if greeting else "Hello,")
    assert f"{SITE}/confirm/tok" in text
    assert message["Subject"] == "Confirm your subscription to Example News"


@pytest.mark.slow  # the mail is rendered and inlined (premailer) per example
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_settings_link_mail_takes_any_name_as_literal_text(name: str) -> None:
    data = settings_link(name)
    check_message(data, SERVICE_HEADERS, READER, name)
    text, _html = parts(data)
    assert f"{SITE}/preferences/p" in text and f"{SITE}/unsubscribe/u" in text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_digest_takes_any_name_as_literal_text(name: str) -> None:
    data = _DIGEST.message_for(sample_recipient(42, name)).data
    check_message(data, DIGEST_HEADERS, READER, name)
    text, _html = parts(data)
    greeting = isolate(one_line(name, MAX_NAME), "ltr")  # a right-to-left name: isolated
    assert (f"Hello {greeting}," if greeting else "Hello,") in text


@pytest.mark.slow  # the mail is rendered and inlined (premailer) per example
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=NAMES)
def test_a_hostile_site_title_reaches_no_header_of_a_service_mail(title: str) -> None:
    for build in (confirmation, settings_link):
        data = build("Ann", title)
        message = check_message(data, SERVICE_HEADERS, READER, "Ann")
        assert message["From"].addresses[0].addr_spec == "news@news.example.org"
        head = data.split(b"\r\n\r\n", 1)[0]
        shown = shown_name(head, "From", message["From"].addresses[0].display_name)
        assert shown == one_line(title, MAX_NAME)


@pytest.mark.slow
@pytest.mark.parametrize("name", HOSTILE)
def test_the_editors_test_copy_with_a_hostile_sender_name(project: Path, name: str) -> None:
    """The test copy (``digest send --to``) goes through the same writer: From name hostile."""
    url = f"sqlite:///{project / 'var' / 'copy.db'}"
    settings_ = make_settings(project, url, PUBLISHER_DIGEST__FROM_NAME=name)
    transport = MemoryTransport()
    publisher = make_publisher(
        settings_, transport=transport, clock=lambda: SEEDED_DAY, create=True
    )
    try:
        seed_articles(publisher)
        publisher.send_test_copy("editor@example.com")
    finally:
        publisher.close()
    (sent,) = transport.sent
    message = check_message(sent.data, DIGEST_HEADERS, "editor@example.com", "")
    head = sent.data.split(b"\r\n\r\n", 1)[0]
    shown = shown_name(head, "From", message["From"].addresses[0].display_name)
    assert shown == one_line(name, MAX_NAME)
    assert message["From"].addresses[0].addr_spec == "news@news.example.org"


@pytest.mark.parametrize("build", [confirmation, settings_link, digest])
def test_an_encoded_bcc_in_a_name_adds_no_recipient(build: Callable[[str], bytes]) -> None:
    """The report's reproduction: decoded by the email package, re-emitted raw."""
    message = parse(build(HOSTILE[0]))
    assert "Bcc" not in message and "Reply-To" not in message
    assert "attacker body" not in message.as_string()


BAD_NAME = ["--name", "Ann\r\nBcc: x@y"]


def test_cli_add_stores_a_name_on_one_line(project: Path) -> None:
    """Every path that stores a name collapses CR LF (the CLI kept them)."""
    (project / ".env").write_text(
        "PUBLISHER_SECRET_KEY=k-0123456789abcdef\nPUBLISHER_MAIL__TRANSPORT=outbox\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    root = ["--root", str(project)]
    assert runner.invoke(main, [*root, "init"]).exit_code == 0
    added = runner.invoke(
        main,
        [*root, "subscribers", "add", "ann@example.com", "--confirmed", *BAD_NAME],
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, [*root, "subscribers", "export"])
    assert "Ann Bcc: x@y" in listed.output and "\r\nBcc" not in listed.output


def test_extra_list_headers_go_through_the_same_writer() -> None:
    """Later mails add list headers (a VERP-style mailto, say) through the same function."""
    from publisher.mailheaders import Token, UrlList

    mail = ConfirmationMail(
        "news@news.example.org", "", READER, HOSTILE[0], "Example News", SITE, f"{SITE}/c/t", 7
    )
    mailto = "mailto:unsubscribe+T0K3N@news.example.org"
    extra = [
        ("List-Unsubscribe", UrlList((f"{SITE}/unsubscribe/T0K3N", mailto))),
        ("List-Unsubscribe-Post", Token("List-Unsubscribe=One-Click")),
    ]
    data = confirmation_message(mail, NOW, extra)[1]
    lists = ["List-Unsubscribe", "List-Unsubscribe-Post"]
    names = [*SERVICE_HEADERS[:6], *lists, *SERVICE_HEADERS[6:]]
    message = check_message(data, names, READER, HOSTILE[0])
    assert message["List-Unsubscribe"] == f"<{SITE}/unsubscribe/T0K3N>, <{mailto}>"
    with pytest.raises(SubscriberError, match="cannot go in a header"):
        confirmation_message(mail, NOW, [("List-Unsubscribe", UrlList(("x>\r\nBcc: y",)))])
