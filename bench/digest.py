"""Benchmark: per-recipient digest messages, against the naive path, in the same run.

Builds a digest of about 40 KB of decoded HTML, renders it once (Jinja2, premailer, MIME
bytes with holes), then makes messages for many readers by byte substitution. The naive path
renders, inlines and serialises the digest for every reader; both run here, on one core,
and the ratio between them is printed. DKIM signing (the one costly per-recipient step we
accept) is measured separately.

    .venv/bin/python bench/digest.py [--messages 20000] [--naive 40] [--signed 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the sample digest data lives with the tests

import dkim as dkimpy  # noqa: E402
from digest_sample import (  # noqa: E402
    SAMPLE_ISSUED,
    SAMPLE_KEY,
    sample_articles,
    sample_options,
    sample_recipient,
)

from publisher.digest import (  # noqa: E402
    SIGNED_HEADERS,
    Audience,
    DigestOptions,
    DkimSigner,
    EmailRenderer,
    RenderedEdition,
    load_signer,
    plan_audience,
    render_edition,
    render_variant,
)
from publisher.digest.personalise import recipient_values  # noqa: E402
from publisher.resources import EMAIL_TEMPLATES_DIR  # noqa: E402
from publisher.types import Frequency, Recipient, Subscriber  # noqa: E402

TARGET_HTML_BYTES = 40_000


def build(
    count: int, signer: DkimSigner | None = None
) -> tuple[RenderedEdition, Audience, DigestOptions, EmailRenderer]:
    options = sample_options(max_articles=count)
    articles = sample_articles(count)
    audience = plan_audience(
        articles, [Subscriber(i, "x@example.org") for i in range(1)], options.plan
    )
    renderer = EmailRenderer(EMAIL_TEMPLATES_DIR)
    edition = render_edition(
        SAMPLE_KEY, Frequency.DAILY, SAMPLE_ISSUED, audience, options, renderer, signer=signer
    )
    return edition, audience, options, renderer


def html_bytes(edition: RenderedEdition) -> int:
    variant = next(iter(edition.variants.values()))
    return len(variant.personal_html(sample_recipient(0)).encode("utf-8"))


def pick_count() -> int:
    """The article count whose decoded HTML is closest to 40 KB."""
    best = (10**9, 1)
    for count in range(8, 40):
        size = html_bytes(build(count)[0])
        best = min(best, (abs(size - TARGET_HTML_BYTES), count))
    return best[1]


def recipients(n: int) -> list[Recipient]:
    base = sample_recipient(0)
    return [
        dataclasses.replace(
            base,
            email=f"reader{i}@example.com",
            name=f"Reader Number {i}",
            message_id=f"<daily-2026-11-27.{i}.0123456789ab@news.example.org>",
            unsubscribe_url=f"{base.unsubscribe_url}-{i}",
            preferences_url=f"{base.preferences_url}-{i}",
        )
        for i in range(n)
    ]


def dkimpy_sign(signer: DkimSigner, message: bytes, names: tuple[str, ...]) -> bytes:
    """The baseline: the same signature made by dkimpy (what the product used before)."""
    present = [n.lower().encode("ascii") for n in names]
    signature = dkimpy.sign(
        message,
        signer.selector.encode("ascii"),
        signer.domain.encode("ascii"),
        signer.private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=present,
        linesep=b"\r\n",
    )
    return bytes(signature) + message


def threaded_rate(edition: RenderedEdition, readers: list[Recipient], lanes: int) -> float:
    """Messages per second made by ``lanes`` threads sharing the readers (wall clock)."""
    shares = [readers[n::lanes] for n in range(lanes)]
    threads = [
        threading.Thread(target=lambda share=share: [edition.message_for(r) for r in share])
        for share in shares
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(readers) / (time.perf_counter() - started)


def signed_rates(
    folder: Path, count: int, variant_key: str, readers: list[Recipient]
) -> dict[str, float]:
    """Messages per second made and signed by each signer, on one core."""
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    ed_key = folder / "ed25519.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(ed_key)],
        check=True,
        capture_output=True,
    )
    rsa_only = load_signer(key, "mail", "", sample_options().from_address)
    both = load_signer(key, "mail", "", sample_options().from_address, ed_key, "ed")
    rates: dict[str, float] = {}
    for label, signer in (("rsa-sha256 (OpenSSL)", rsa_only), ("rsa + ed25519", both)):
        edition = build(count, signer)[0]
        for r in readers:
            edition.assignments[r.subscriber_id] = variant_key
        started = time.perf_counter()
        for r in readers:
            edition.message_for(r)
        rates[label] = len(readers) / (time.perf_counter() - started)
        if signer is rsa_only:  # as a sender's 4 lanes do: threads at once
            rates[label + ", 4 threads"] = threaded_rate(edition, readers, 4)
    unsigned = build(count)[0]
    for r in readers:
        unsigned.assignments[r.subscriber_id] = variant_key
    started = time.perf_counter()
    for r in readers:
        data = unsigned.message_for(r).data
        dkimpy_sign(rsa_only, data, SIGNED_HEADERS)
    rates["rsa-sha256 (dkimpy, baseline)"] = len(readers) / (time.perf_counter() - started)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--naive", type=int, default=40)
    parser.add_argument("--signed", type=int, default=300)
    args = parser.parse_args()

    count = pick_count()
    started = time.perf_counter()
    edition, audience, options, renderer = build(count)
    render_seconds = time.perf_counter() - started
    variant = next(iter(audience.variants.values()))
    size = html_bytes(edition)
    message_size = len(edition.message_for(sample_recipient(0)).data)
    print(f"digest: {count} articles, decoded HTML {size / 1000:.1f} kB,", end=" ")
    print(f"message {message_size / 1000:.1f} kB")
    print(f"render once (Jinja2 + premailer + MIME bytes): {render_seconds * 1000:.1f} ms")

    readers = recipients(args.messages)
    for r in readers:
        edition.assignments[r.subscriber_id] = variant.key
    started = time.perf_counter()
    total = 0
    for r in readers:
        total += len(edition.message_for(r).data)
    fast = args.messages / (time.perf_counter() - started)
    print(f"personalised by substitution: {fast:,.0f} messages/s ({1e6 / fast:.1f} µs each)")

    started = time.perf_counter()
    for r in readers[: args.naive]:
        rendered = render_variant(
            variant, SAMPLE_KEY, Frequency.DAILY, SAMPLE_ISSUED, options, renderer
        )
        rendered.template.fill(recipient_values(r, SAMPLE_ISSUED))
    naive = args.naive / (time.perf_counter() - started)
    print(f"naive (render + premailer + build per recipient): {naive:,.1f} messages/s", end=" ")
    print(f"({1000 / naive:.1f} ms each)")
    print(f"ratio substitution / naive: {fast / naive:,.0f}x")

    with tempfile.TemporaryDirectory() as folder:
        rates = signed_rates(Path(folder), count, variant.key, readers[: args.signed])
    print(f"DKIM, {args.signed} messages each way, against unsigned in this run:")
    for label, rate in rates.items():
        print(
            f"  {label}: {rate:,.0f} messages/s ({1000 / rate:.2f} ms each); "
            f"ratio to unsigned {rate / fast:.3f}"
        )
    openssl, dkimpy_rate = rates["rsa-sha256 (OpenSSL)"], rates["rsa-sha256 (dkimpy, baseline)"]
    print(f"ratio OpenSSL / dkimpy: {openssl / dkimpy_rate:,.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
