"""Benchmark: a reader's digest message on the production path, against the alternatives.

    python bench/personalise.py [--messages 20000] [--jinja 300]

The production path is what a sender process calls per claimed row: the publisher's
``message_factory`` (``core.Editions``), which makes the reader's two signed links
(unsubscribe, preferences), the Message-ID, and fills the variant's bytes. It runs here on
a real publisher (SQLite in a temporary folder, the sample articles, DKIM off), after the
variant was rendered once. In the same run, on one core:

Times are CPU seconds of this process (``time.process_time``), so a busy machine
skews them less than wall-clock time would.

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--jinja", type=int, default=300)
    args = parser.parse_args()
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
            for n in range(args.messages)
        ]
        size = len(factory(claims[0]).data)  # renders the variant once (not timed)
        started = time.process_time()
        for claim in claims:
            factory(claim)
        production = time.process_time() - started

        # The baseline: Jinja2 per reader (HTML and text), no premailer, no MIME.
        plan = full_variant(editions.articles_of(edition), editions.options.plan)
        renderer = editions.renderer
        started = time.process_time()
        for n in range(args.jinja):
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
        jinja = time.process_time() - started
        publisher.close()

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

    jinja_each = jinja / args.jinja
    prod_each = production / args.messages
    print(f"digest message: {size} bytes, {args.messages} readers, one core, DKIM off")
    print(f"message_factory (production path):    {per_call(production, args.messages)} each")
    print(f"Jinja2 per reader, no premailer:      {per_call(jinja, args.jinja)} each (baseline)")
    print(f"ratio production / baseline:          {jinja_each / prod_each:7.1f}x faster")
    print(
        f"token, compact HMAC:                  {per_call(compact, args.messages)} "
        f"({len(sample_compact)} chars)"
    )
    print(
        f"token, itsdangerous (earlier format): {per_call(legacy, args.messages)} "
        f"({len(sample_legacy)} chars); ratio {legacy / compact:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
