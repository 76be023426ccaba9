"""DKIM signing with dkimpy, naming every header we rely on (B5).

dkimpy's default header list leaves ``List-Unsubscribe-Post`` and ``Feedback-ID`` out of
``h=``; a receiver then cannot trust the one-click unsubscribe header, and Gmail and Yahoo
want it signed. We pass the list ourselves, after every header is final. Signing happens per
recipient (each message has its own To and Message-ID): it is the one costly per-recipient
step, measured in ``bench/digest.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dkim as dkimpy

from publisher.exceptions import ConfigError

SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "List-Id",
    "List-Archive",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "Precedence",
    "Auto-Submitted",
)


def aligned(from_domain: str, dkim_domain: str) -> bool:
    """DMARC relaxed alignment: the From domain is the d= domain or below it."""
    sender = from_domain.lower().rstrip(".")
    signer = dkim_domain.lower().rstrip(".")
    return sender == signer or sender.endswith("." + signer)


@dataclass(frozen=True)
class DkimSigner:
    """Signs finished messages; made once at start-up by :func:`load_signer`."""

    selector: str
    domain: str
    private_key: bytes = field(repr=False)

    def sign(self, message: bytes, header_names: tuple[str, ...] = SIGNED_HEADERS) -> bytes:
        """The message with a DKIM-Signature header in front."""
        present = [h.lower().encode("ascii") for h in header_names]
        signature = dkimpy.sign(
            message,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=present,
            linesep=b"\r\n",
        )
        return bytes(signature) + message


def load_signer(key_path: str | Path, selector: str, domain: str, from_address: str) -> DkimSigner:
    """Read and check the key; refuse a d= domain the From address does not align with."""
    from_domain = from_address.rpartition("@")[2]
    domain = domain or from_domain
    if not aligned(from_domain, domain):
        raise ConfigError(
            [
                f"dkim.domain: {domain!r} does not align with the From domain "
                f"{from_domain!r} (digest.from_address); DMARC would fail"
            ]
        )
    if not selector or any(not (c.isalnum() or c in "-_.") for c in selector):
        raise ConfigError([f"dkim.selector: {selector!r} is not a valid selector"])
    try:
        key = Path(key_path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"dkim.private_key_path: cannot read {key_path}: {exc}"]) from exc
    try:
        dkimpy.crypto.parse_pem_private_key(key)
    except Exception as exc:  # dkimpy raises several unrelated types for a bad key
        raise ConfigError(
            [f"dkim.private_key_path: {key_path} is not a PEM RSA private key ({exc})"]
        ) from exc
    return DkimSigner(selector, domain.lower(), key)
