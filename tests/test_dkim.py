"""DKIM signatures made with OpenSSL, checked by two independent verifiers.

dkimpy (Python) verifies both signatures (RSA-SHA256, and Ed25519-SHA256 per RFC 8463) with
the public keys handed over through its DNS hook; OpenDKIM's ``opendkim-testmsg`` verifies
the RSA signature by looking the key up in real DNS: a dnsmasq server on a loopback address
holds the TXT record, and the verifier runs in a mount namespace whose ``/etc/resolv.conf``
points at it (``.ci/run`` installs opendkim-tools and dnsmasq; CI runs as root).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from digest_sample import sample_recipient
from digest_support import make_dkim_key, make_ed25519_key, render_sample
from dkim.canonicalization import Relaxed
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.digest import RenderedEdition, load_signer
from publisher.digest.dkim import relaxed_body
from publisher.exceptions import ConfigError
from publisher.types import Subscriber

FROM = "digest@news.example.org"
DNS_ADDRESS = "127.0.0.77"  # a loopback address of its own, so no other server is in the way


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    return {"mail": make_dkim_key(tmp_path), "ed": make_ed25519_key(tmp_path)}


def dns_of(keys: dict[str, tuple[Path, str]]):  # type: ignore[no-untyped-def]
    def lookup(name: bytes, timeout: int = 5) -> bytes:
        selector = name.decode("ascii").split("._domainkey.")[0]
        assert name.endswith(b"._domainkey.news.example.org.")
        return keys[selector][1].encode("ascii")

    return lookup


def test_rsa_and_ed25519_signatures_both_verify(keys: dict[str, tuple[Path, str]]) -> None:
    signer = load_signer(keys["mail"][0], "mail", "", FROM, keys["ed"][0], "ed")
    data = render_sample(signer=signer).message_for(sample_recipient()).data
    lookup = dns_of(keys)
    verifier = dkim.DKIM(data)
    assert verifier.verify(idx=0, dnsfunc=lookup)  # the RSA signature, first
    assert verifier.verify(idx=1, dnsfunc=lookup)  # the Ed25519 one
    headers = data.split(b"\r\n\r\n", 1)[0]
    assert b"a=rsa-sha256" in headers and b"a=ed25519-sha256" in headers
    tampered = data.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click")
    changed = dkim.DKIM(tampered)
    assert not changed.verify(idx=0, dnsfunc=lookup)
    assert not changed.verify(idx=1, dnsfunc=lookup)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))  # RFC 5322 line limit


def test_a_key_of_the_wrong_kind_is_refused_with_its_setting(
    keys: dict[str, tuple[Path, str]],
) -> None:
    with pytest.raises(ConfigError, match=r"dkim\.private_key_path: .* not a PEM RSA private key"):
        load_signer(keys["ed"][0], "mail", "", FROM)
    with pytest.raises(ConfigError, match=r"dkim\.ed25519_key_path: .* not a PEM Ed25519"):
        load_signer(keys["mail"][0], "mail", "", FROM, keys["mail"][0], "ed")
    with pytest.raises(ConfigError, match="must differ"):
        load_signer(keys["mail"][0], "mail", "", FROM, keys["ed"][0], "mail")


# Bodies as they come: CRLF lines with runs of spaces and tabs, trailing blanks, empty lines.
body_lines = st.lists(st.text(alphabet=st.sampled_from(list("ab= \t.")), max_size=12), max_size=8)


@given(body_lines, st.booleans())
def test_relaxed_body_is_what_dkimpy_makes(lines: list[str], final_crlf: bool) -> None:
    body = "\r\n".join(lines).encode("ascii") + (b"\r\n" if final_crlf else b"")
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


# --- OpenDKIM, through real DNS --------------------------------------------------------------


def _require(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{why} under CI (.ci/run installs and runs it)")
        pytest.skip(why)


@pytest.fixture
def dns_server(keys: dict[str, tuple[Path, str]], tmp_path: Path) -> Iterator[Path]:
    """dnsmasq on a loopback address holding the RSA key's TXT record; yields a resolv.conf."""
    _require(shutil.which("dnsmasq") is not None, "dnsmasq is not installed")
    _require(shutil.which("opendkim-testmsg") is not None, "opendkim-tools is not installed")
    _require(os.geteuid() == 0, "DNS on port 53 and a mount namespace need root")
    record = keys["mail"][1]
    chunks = ",".join(record[i : i + 200] for i in range(0, len(record), 200))
    server = subprocess.Popen(
        ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
         f"--listen-address={DNS_ADDRESS}", "--port=53",
         f"--txt-record=mail._domainkey.news.example.org,{chunks}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions timeout:2 attempts:2\n")
    time.sleep(0.5)
    assert server.poll() is None, "dnsmasq did not start"
    try:
        yield resolv
    finally:
        server.terminate()
        server.wait(timeout=10)


def opendkim_verifies(message: bytes, resolv: Path) -> subprocess.CompletedProcess[bytes]:
    """opendkim-testmsg in a mount namespace whose resolver is our DNS server."""
    script = f"mount --bind {resolv} /etc/resolv.conf && exec opendkim-testmsg"
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script], input=message, capture_output=True, timeout=60
    )


@pytest.mark.slow
def test_opendkim_verifies_our_signature_through_dns(
    keys: dict[str, tuple[Path, str]], dns_server: Path
) -> None:
    signer = load_signer(keys["mail"][0], "mail", "", FROM)
    data = render_sample(signer=signer).message_for(sample_recipient()).data
    good = opendkim_verifies(data, dns_server)
    assert good.returncode == 0, good.stderr
    tampered = data.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Click")
    bad = opendkim_verifies(tampered, dns_server)
    assert bad.returncode != 0 and b"bad signature" in bad.stderr.lower()


# --- the per-variant body hash -----------------------------------------------------------------

names = st.text(alphabet=st.sampled_from(list("Ab \t,'\"é")), max_size=20)


@functools.cache
def sample_edition() -> RenderedEdition:
    return render_sample()


@settings(deadline=None)
@given(names, st.sampled_from(["", "?a=1", "-2&b=c"]))
def test_the_precomputed_body_hash_is_the_hash_of_the_whole_canonical_body(
    name: str, tail: str
) -> None:
    """Whatever a reader's name and links hold (spaces, tabs, runs), the hash made from the
    variant's fixed chunks equals the hash of the whole message's canonical body."""
    import dataclasses
    import hashlib

    from publisher.digest.dkim import BodyHasher
    from publisher.digest.personalise import recipient_values

    edition = sample_edition()
    recipient = dataclasses.replace(
        sample_recipient(42, name), unsubscribe_url=sample_recipient().unsubscribe_url + tail
    )
    variant = edition.variant_for(42)
    values = recipient_values(recipient, edition.clock())
    body = variant.template.fill(values).split(b"\r\n\r\n", 1)[1]
    hasher = BodyHasher(variant.template)
    assert hasher.digest(values, lambda: body) == hashlib.sha256(relaxed_body(body)).digest()


def test_an_ordinary_reader_never_needs_the_whole_body_canonicalised() -> None:
    from publisher.digest.dkim import BodyHasher
    from publisher.digest.personalise import recipient_values

    edition = sample_edition()
    variant = edition.variant_for(42)
    values = recipient_values(sample_recipient(42, "Ann O'Reader"), edition.clock())

    def whole_body() -> bytes:
        raise AssertionError("the fixed chunks should have been enough")

    assert len(BodyHasher(variant.template).digest(values, whole_body)) == 32


def test_signatures_made_on_several_threads_at_once_are_each_readers_own(
    keys: dict[str, tuple[Path, str]],
) -> None:
    """OpenSSL signs with the interpreter lock released (cryptography 47 and later), so a
    sender's threads sign at the same time with one key object. PKCS#1 v1.5 is
    deterministic: each message signed on four threads at once must be byte for byte the
    one signed alone, and verify with dkimpy."""
    import threading

    signer = load_signer(keys["mail"][0], "mail", "", FROM)
    edition = render_sample(
        subscribers=[Subscriber(n, f"reader{n}@example.com") for n in range(1, 41)],
        signer=signer,
    )
    readers = [sample_recipient(n, f"Reader {n}") for n in range(1, 41)]
    alone = [edition.message_for(r).data for r in readers]
    results: dict[int, list[bytes]] = {}

    def sign_all(lane: int) -> None:
        results[lane] = [edition.message_for(r).data for r in readers]

    lanes = [threading.Thread(target=sign_all, args=(n,)) for n in range(4)]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join()
    assert all(results[n] == alone for n in range(4))
    assert len(set(alone)) == len(readers)  # each reader's own message and signature
    lookup = dns_of(keys)
    assert all(dkim.DKIM(data).verify(dnsfunc=lookup) for data in alone[:5])
