"""A sender process for the crash and concurrency tests: the engine, without the digest.

``python tests/run_sender.py DB_URL SMTP_PORT [--forever] [--batch N] [--connections N]
[--lease S]``. SIGINT/SIGTERM stop it gracefully (in-flight messages finish, claims are
released, exit 0); it prints the tally as JSON on exit.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).parent))

from ledger_helpers import make_message

from publisher.delivery import Sender, SenderOptions, SmtpOptions, SmtpTransport
from publisher.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("port", type=int)
    parser.add_argument("--forever", action="store_true")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--lease", type=float, default=300.0)
    args = parser.parse_args()
    store = open_store(args.url, migrate=False)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    options = SenderOptions(
        batch_size=args.batch,
        connections=args.connections,
        lease_seconds=args.lease,
        retry_base_seconds=0.05,
        poll_seconds=0.1,
    )
    smtp = SmtpOptions("127.0.0.1", args.port, timeout=10)
    sender = Sender(store.deliveries, lambda: SmtpTransport(smtp), make_message, options)
    tally = sender.run(stop, forever=args.forever)
    print(json.dumps({"worker": sender.worker_id, "sent": tally.sent}), flush=True)
    store.close()


if __name__ == "__main__":
    main()
