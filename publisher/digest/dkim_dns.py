"""Does the DKIM key we sign with match the public key published in DNS?

A signature made with a key whose public half is not (or no longer) at
``SELECTOR._domainkey.DOMAIN`` fails at every receiver, silently for us. The check compares
the ``p=`` tag of that TXT record with the public key derived from our private key (both
are base64 of the same SubjectPublicKeyInfo). Without a reachable resolver it says so and
decides nothing: a machine with no DNS is not a wrong key.
"""

from __future__ import annotations

import base64
import re

import dns.exception
import dns.resolver
from cryptography.hazmat.primitives import serialization

from publisher.digest.dkim import DkimSigner

DNS_TIMEOUT = 4.0


def public_key_b64(signer: DkimSigner) -> str:
    key = serialization.load_pem_private_key(signer.private_key, password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def published_key(record: str) -> str | None:
    """The ``p=`` value of a DKIM TXT record (whitespace removed), None without one."""
    found = re.search(r"(?:^|;)\s*p\s*=\s*([A-Za-z0-9+/=\s]*)", record)
    return re.sub(r"\s+", "", found.group(1)) if found else None


def check_published_key(
    signer: DkimSigner, resolver: dns.resolver.Resolver | None = None
) -> tuple[bool | None, str]:
    """(True, detail) when DNS has our key, (False, detail) when not, (None, why) when DNS
    could not be asked. ``resolver`` defaults to the system's (/etc/resolv.conf)."""
    name = f"{signer.selector}._domainkey.{signer.domain}"
    try:
        if resolver is None:
            resolver = dns.resolver.Resolver()
            resolver.lifetime = DNS_TIMEOUT
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False, f"no DKIM record at {name} (publish p={public_key_b64(signer)[:24]}...)"
    except (
        dns.exception.Timeout,
        dns.resolver.NoNameservers,
        dns.resolver.NoResolverConfiguration,
    ):
        return None, f"DNS not reachable, {name} not checked"
    records = ["".join(part.decode("ascii", "replace") for part in r.strings) for r in answer]
    ours = public_key_b64(signer)
    for record in records:
        if published_key(record) == ours:
            return True, f"{name} publishes the signing key"
    return False, f"{name} publishes another key than dkim.private_key_path"
