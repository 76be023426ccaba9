"""Helpers shared by the digest tests: render the fixed sample edition, parse messages."""

from __future__ import annotations

import base64
import email
import email.policy
import subprocess
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from digest_sample import SAMPLE_ISSUED, SAMPLE_KEY, sample_articles, sample_options

from publisher.digest import (
    DigestOptions,
    DkimSigner,
    EmailRenderer,
    RenderedEdition,
    plan_audience,
    render_edition,
)
from publisher.resources import EMAIL_TEMPLATES_DIR
from publisher.types import Article, Frequency, Subscriber


def render_sample(
    articles: Sequence[Article] | None = None,
    subscribers: Sequence[Subscriber] | None = None,
    options: DigestOptions | None = None,
    signer: DkimSigner | None = None,
    templates: Path = EMAIL_TEMPLATES_DIR,
    nonce: str | None = "0123456789ab",
) -> RenderedEdition:
    """The sample edition rendered for ``subscribers`` (default: reader 42, everything)."""
    options = options or sample_options()
    chosen = tuple(articles) if articles is not None else sample_articles(8)
    readers = subscribers or [Subscriber(42, "reader42@example.com")]
    audience = plan_audience(chosen, readers, options.plan, options.language)
    return render_edition(
        SAMPLE_KEY,
        Frequency.DAILY,
        SAMPLE_ISSUED,
        audience,
        options,
        EmailRenderer(templates),
        signer=signer,
        clock=lambda: SAMPLE_ISSUED,
        nonce=nonce,
    )


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(data: bytes) -> tuple[str, str]:
    """The decoded text and HTML parts."""
    message = parse(data)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def make_dkim_key(folder: Path) -> tuple[Path, str]:
    """A fresh RSA key (openssl) and its DNS TXT record value."""
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode("ascii")


def make_ed25519_key(folder: Path) -> tuple[Path, str]:
    """A fresh Ed25519 key and its DNS TXT record (the raw 32-byte public key, RFC 8463)."""
    key = ed25519.Ed25519PrivateKey.generate()
    path = folder / "ed25519.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return path, "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode("ascii")
