"""Benchmark: a reader's digest message on the production path, against the alternatives.

    python bench/personalise.py [--messages 20000] [--jinja 300]

The production path is what a sender process calls per claimed row: the publisher's
``message_factory`` (``core.Editions``), which makes the reader's links and fills the
variant's bytes. It runs here on a real publisher (SQLite in a temporary folder, the sample
articles, DKIM off), after the variant was rendered once, in two configurations:

- every per-reader link (the target's figure): a return path, so each message gets its
  VERP envelope sender and ``unsubscribe+TOKEN@`` mailto; per-reader click counting, so
  every tracked link and the open-counting image carry the reader's signed tag; and the two
  signed links (unsubscribe, preferences) and the Message-ID every message has;
- the defaults (no return path, no per-reader counting): the two signed links and the
  Message-ID only.

Times are CPU seconds of this process (``time.process_time``), so a busy machine
skews them less than wall-clock time would. In the same run, on one core:

- the baseline: the same digest rendered per reader with Jinja2 (HTML and text), without
  premailer and without building MIME: the strongest simple alternative, a lower bound of
  what templating per reader costs;
- the token alone, compact (HMAC over a few bytes, what is written now) and in the
  earlier itsdangerous format (still read), one per call.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itsdangerous import URLSafeTimedSerializer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from publisher.config import load_settings  # noqa: E402
from publisher.core import make_publisher  # noqa: E402
from publisher.digest.edition import make_placeholders, variant_context  # noqa: E402
from publisher.digest.plan import full_variant  # noqa: E402
from publisher.digest.render import HTML_TEMPLATE  # noqa: E402
from publisher.tokens import Purpose, TokenSigner, address_tag  # noqa: E402
from publisher.types import ClaimedDelivery, Frequency  # noqa: E402

KEY = "bench-secret-key-0123456789abcdef"


def per_call(seconds: float, count: int) -> str:
    return f"{seconds / count * 1e6:7.1f} µs"


EVERY_LINK = {
    "PUBLISHER_MAIL__RETURN_PATH": "bounces@news.example.org",
    "PUBLISHER_ENGAGEMENT__PER_READER": "true",
    "PUBLISHER_ENGAGEMENT__OPENS": "true",
}


def production(messages: int, extra: dict[str, str], jinja: int = 0) -> tuple[float, int, float]:
    """(CPU seconds per message of ``message_factory``, message size, Jinja2 seconds per
    reader or 0) on a fresh publisher with the settings ``extra``."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "config").mkdir()
        (root / "config" / "publisher.toml").write_text(
            '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
        )
        env = {
            "PUBLISHER_SECRET_KEY": KEY,
            "PUBLISHER_DATABASE__URL": f"sqlite:///{root / 'store.db'}",
            "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
            **extra,
        }
        now = datetime.now(UTC)
        publisher = make_publisher(load_settings(root, environ=env), create=True, clock=lambda: now)
        publisher.import_directory(ROOT / "examples" / "articles")
        later = now + timedelta(hours=1)
        publisher = make_publisher(load_settings(root, environ=env), clock=lambda: later)
        editions = publisher._services.editions
        edition = editions.open(Frequency.DAILY)
        factory = editions.message_factory()
        claims = [
            ClaimedDelivery(
                n, edition.id, edition.key, n + 1, f"reader{n}@example.org", f"Reader {n}"
            )
            for n in range(messages)
        ]
        size = len(factory(claims[0]).data)  # renders the variant once (not timed)
        started = time.process_time()
        for claim in claims:
            factory(claim)
        seconds = time.process_time() - started

        # The baseline: Jinja2 per reader (HTML and text), no premailer, no MIME.
        plan = full_variant(editions.articles_of(edition), editions.options.plan)
        renderer = editions.renderer
        started = time.process_time()
        for n in range(jinja):
            context = variant_context(
                plan,
                edition.key,
                Frequency.DAILY,
                later,
                editions.options,
                make_placeholders(f"r{n}"),
            )
            renderer.render(HTML_TEMPLATE, context)  # Jinja2 only: no premailer
            renderer.render_text(context)
        jinja_seconds = time.process_time() - started
        publisher.close()
    return seconds / messages, size, jinja_seconds / jinja if jinja else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--jinja", type=int, default=300)
    args = parser.parse_args()
    every, size, jinja_each = production(args.messages, EVERY_LINK, args.jinja)
    defaults, default_size, _ = production(args.messages, {})

    signer = TokenSigner(KEY)
    started = time.process_time()
    for n in range(args.messages):
        signer.make(Purpose.UNSUBSCRIBE, n, "reader@example.org")
    compact = time.process_time() - started
    legacy_serializer = URLSafeTimedSerializer(KEY, salt="publisher.unsubscribe")
    tag = address_tag("reader@example.org")
    started = time.process_time()
    for n in range(args.messages):
        legacy_serializer.dumps([n, tag])
    legacy = time.process_time() - started
    sample_compact = signer.make(Purpose.UNSUBSCRIBE, 123456, "reader@example.org")
    sample_legacy = str(legacy_serializer.dumps([123456, tag]))

    print(f"digest message: {size} bytes, {args.messages} readers, one core, DKIM off")
    print(f"message_factory, every per-reader link: {every * 1e6:7.1f} µs each (target 40)")
    print(
        f"message_factory, defaults:              {defaults * 1e6:7.1f} µs each "
        f"({default_size} bytes)"
    )
    print(f"Jinja2 per reader, no premailer:        {jinja_each * 1e6:7.1f} µs each (baseline)")
    print(f"ratio baseline / production (every link): {jinja_each / every:5.1f}x")
    print(
        f"token, compact HMAC:                    {per_call(compact, args.messages)} "
        f"({len(sample_compact)} chars)"
    )
    print(
        f"token, itsdangerous (earlier format):   {per_call(legacy, args.messages)} "
        f"({len(sample_legacy)} chars); ratio {legacy / compact:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
