"""``/metrics`` scraped from a running ``publisher serve`` while a digest is being sent.

The service runs as a real process with ``metrics.listen`` on its own loopback port; a
``digest send`` process delivers to a slow aiosmtpd server meanwhile. Every scrape is
parsed with prometheus-client's own parser (what a Prometheus server would accept), and
the figures must agree with what the test did: the ledger holds one row per reader, some
scrape sees the edition part-way, HTTP requests are counted by route template and status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from localhost import free_port
from prometheus_client.parser import text_string_to_metric_families
from smtp_counter import CountingServer, Faults
from test_serve import Serve

from publisher.cli import main

READERS = 120


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of every family, keyed by sample name then sorted labels."""
    text = httpx.get(url, timeout=5).text
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


@pytest.mark.slow
def test_metrics_during_a_send_parse_and_add_up(project: Path) -> None:
    metrics_port = free_port()
    with CountingServer(Faults(slow=1.0, delay=0.02)) as smtp:
        env = {
            "PUBLISHER_SECRET_KEY": "metrics-secret-0123456789abcdef0123456789",
            "PUBLISHER_METRICS__LISTEN": f"127.0.0.1:{metrics_port}",
            "PUBLISHER_MAIL__TRANSPORT": "smtp",
            "PUBLISHER_SMTP__HOST": "127.0.0.1",
            "PUBLISHER_SMTP__PORT": str(smtp.port),
            "PUBLISHER_SMTP__CONNECTIONS": "1",
            "PUBLISHER_MAIL__BATCH_SIZE": "10",
        }
        runner = CliRunner()
        for args in (
            ["init"],
            ["articles", "add", str(Path("examples/demo/todays-briefing.md").resolve())],
        ):
            result = runner.invoke(main, ["--root", str(project), *args], env=env)
            assert result.exit_code == 0, result.output
        rows = "".join(f"r{i}@example.org\n" for i in range(READERS))
        (project / "list.csv").write_text("email\n" + rows, encoding="utf-8")
        imported = runner.invoke(
            main,
            [
                "--root",
                str(project),
                "subscribers",
                "import",
                "--confirmed",
                str(project / "list.csv"),
            ],
            env=env,
        )
        assert imported.exit_code == 0, imported.output

        serve = Serve(project, env, "--no-worker")
        try:
            serve.wait_ready()
            httpx.get(f"{serve.url}/feeds/rss.xml", timeout=5)
            httpx.get(f"{serve.url}/no-such-page", timeout=5)
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            sender = subprocess.Popen(
                [sys.executable, "-m", "publisher", "--root", str(project), "digest", "send"],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            partial = []
            while sender.poll() is None:
                figures = scrape(url)
                # The edition's own rows, read by the same query as its progress ratio:
                # the ledger totals are another query of the same scrape, a moment
                # earlier, and the last message could be recorded between the two.
                rows_now = figures.get("publisher_edition_rows", {})
                sent = sum(n for k, n in rows_now.items() if dict(k)["state"] == "sent")
                if sum(rows_now.values()) == READERS and 0 < sent < READERS:
                    partial.append(figures)
                time.sleep(0.2)
            assert sender.returncode == 0
            # A bounce comes back (the mail server's report, fed as an MTA pipe would).
            bounce = str(Path("examples/inbound/bounce.eml").resolve())
            processed = runner.invoke(
                main, ["--root", str(project), "inbound", "process", bounce], env=env
            )
            assert processed.exit_code == 0, processed.output
            final = scrape(url)
        finally:
            serve.terminate()
    assert partial, "no scrape saw the edition part-way"
    mid = partial[-1]
    (progress,) = mid["publisher_edition_progress_ratio"].values()
    assert 0 < progress < 1
    assert mid["publisher_send_rate_messages_per_second"][()] > 0

    assert final["publisher_store_up"][()] == 1
    assert final["publisher_messages_total"][(("outcome", "sent"),)] == READERS
    assert final["publisher_ledger_rows"][(("state", "pending"),)] == 0
    (done,) = final["publisher_edition_progress_ratio"].values()
    assert done == 1
    assert final["publisher_store_rows"][(("table", "subscribers"),)] == READERS
    assert sum(final["publisher_inbound_events_total"].values()) == 1
    requests = final["publisher_http_requests_total"]
    assert requests[(("method", "GET"), ("route", "/healthz"), ("status", "200"))] >= 1
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    assert any(dict(k)["route"].startswith("/feeds") for k in requests)
    buckets = final["publisher_http_request_duration_seconds_bucket"]
    assert any(dict(k)["le"] == "+Inf" and dict(k)["route"] == "/healthz" for k in buckets)
    next_runs = final["publisher_scheduler_next_run_timestamp_seconds"]
    assert next_runs[(("job", "digest-daily"),)] > time.time()
    assert "metrics: http://127.0.0.1:" in serve.log()


def test_metrics_are_off_unless_an_address_is_given(project: Path) -> None:
    env = {"PUBLISHER_METRICS__LISTEN": "9108"}
    result = CliRunner().invoke(main, ["--root", str(project), "config", "show"], env=env)
    assert result.exit_code == 1
    assert "metrics.listen (PUBLISHER_METRICS__LISTEN, from environment)" in result.output
    assert "must be HOST:PORT" in result.output
