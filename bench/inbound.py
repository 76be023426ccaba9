"""How fast inbound mail is understood: the sample corpus classified over and over.

Prints messages per second for ``publisher.inbound.classify`` (parse, reports, VERP token,
flufl.bounce, auto-reply rules) against a baseline measured in the same run: parsing the
same bytes with the email package alone, which every classifier must do anyway.

    python bench/inbound.py [--rounds N]
"""

from __future__ import annotations

import argparse
import email
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from publisher.inbound import Addressing, classify

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "inbound"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="passes over the corpus")
    rounds = parser.parse_args().rounds
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    mails = [(CORPUS / s["file"]).read_bytes() for s in expected["samples"]]
    addressing = Addressing.for_return_path(expected["secret_key"], expected["return_path"])
    now = datetime.now(UTC)
    count = rounds * len(mails)

    started = time.perf_counter()
    for _ in range(rounds):
        for raw in mails:
            email.message_from_bytes(raw)
    baseline = count / (time.perf_counter() - started)

    started = time.perf_counter()
    for _ in range(rounds):
        for raw in mails:
            classify(raw, addressing, "bench", now)
    rate = count / (time.perf_counter() - started)

    print(f"{len(mails)} samples x {rounds} rounds = {count} messages")
    print(f"email.message_from_bytes (baseline): {baseline:9.0f} messages/s  1.00")
    print(f"inbound.classify:                    {rate:9.0f} messages/s  {rate / baseline:.2f}")


if __name__ == "__main__":
    main()
