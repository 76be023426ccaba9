"""deploy/: the systemd units and the nginx site, checked with the real tools.

- systemd: copies of the units rendered against real paths (this checkout and its
  virtualenv) pass ``systemd-analyze verify`` with no complaint at all (it only warns about
  unknown keys, so any output fails); every service runs as the dedicated user with the
  hardening options; every command line a unit runs is one our CLI accepts.
- nginx: Debian's nginx runs ``deploy/nginx/publisher.conf`` on loopback in front of a real
  ``publisher serve``: a feed comes from disk with its content type, ETag and a 304 on
  revalidation; a page and a subscribe POST go through to the app, which logs the address
  nginx saw (a client-sent X-Forwarded-For is not believed).

``.ci/run`` installs systemd and nginx; without them these tests skip locally and fail
under CI.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from localhost import free_port
from test_serve import Serve

from publisher.cli import main

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
UNITS = DEPLOY / "systemd"
PUBLISHER_BIN = Path(sys.executable).parent / "publisher"
HARDENING = (
    "User=publisher",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "CapabilityBoundingSet=",
)


def need(tool: str) -> str:
    found = shutil.which(tool) or (
        f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing under CI (.ci/run installs it)")
        pytest.skip(f"{tool} not installed")
    return found


def render(text: str, root: Path) -> str:
    """A unit or site with the documented paths replaced by real ones."""
    text = text.replace("/srv/publisher/.venv/bin/publisher", str(PUBLISHER_BIN))
    text = text.replace("/srv/publisher/deploy/", f"{DEPLOY}/")
    return text.replace("/srv/publisher", str(root))


# --- systemd ------------------------------------------------------------------------------------


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = need("systemd-analyze")
    root = tmp_path / "srv"
    for folder in ("var", "feeds"):
        (root / folder).mkdir(parents=True)
    rendered = tmp_path / "units"
    rendered.mkdir()
    for unit in UNITS.iterdir():
        (rendered / unit.name).write_text(render(unit.read_text("utf-8"), root), "utf-8")
    names = sorted(p.name for p in rendered.iterdir() if "@." not in p.name)
    names.append("publisher-worker@1.service")  # the template, as an instance
    done = subprocess.run(
        [tool, "verify", "--man=no", *names],
        cwd=rendered,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{rendered}:"},
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).strip() == "", done.stdout + done.stderr


def test_every_service_is_hardened_and_runs_a_command_we_have() -> None:
    services = sorted(UNITS.glob("*.service"))
    assert {p.name for p in services} >= {
        "publisher-web.service",
        "publisher-worker@.service",
        "publisher-scheduler.service",
        "publisher-inbound.service",
    }
    for unit in services:
        text = unit.read_text("utf-8")
        for line in HARDENING:
            assert re.search(rf"^{re.escape(line)}$", text, re.M), f"{unit.name}: no {line}"
        (exec_line,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
        words = shlex.split(exec_line)
        if words[0] == "/bin/sh":  # the backup unit wraps the command for a dated name
            words = shlex.split(words[-1].split("exec ", 1)[1].replace("$$(date +%%F)", "day"))
        assert words[0] == "/srv/publisher/.venv/bin/publisher", unit.name
        if words[1] == "inbound" and "inbound" not in main.commands:  # type: ignore[attr-defined]
            continue  # the inbound receiver ships separately; its unit is ready for it
        result = CliRunner().invoke(main, [*_without_values(words[1:]), "--help"])
        assert result.exit_code == 0, f"{unit.name}: {words[1:]}: {result.output}"
        for option in (w.split("=")[0] for w in words[1:] if w.startswith("--")):
            assert option in result.output, f"{unit.name}: {option} is not an option"


def _without_values(words: list[str]) -> list[str]:
    """The command path alone (``serve``, ``inbound serve``): options dropped."""
    path = []
    for word in words:
        if word.startswith("-"):
            break
        path.append(word)
    return path


# --- nginx --------------------------------------------------------------------------------------

NGINX_MAIN = """daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
"""


@pytest.fixture
def site(tmp_path: Path, project: Path) -> Iterator[tuple[str, Serve]]:
    """``publisher serve`` behind Debian's nginx with deploy/nginx/publisher.conf."""
    nginx = need("nginx")
    runner = CliRunner()
    for args in (
        ["init", "--samples", str(REPO / "examples" / "articles")],
        ["feeds", "build"],
    ):
        result = runner.invoke(main, ["--root", str(project), *args], env={})
        assert result.exit_code == 0, result.output
    app = Serve(
        project,
        {"PUBLISHER_WEB__TRUSTED_PROXIES": "127.0.0.1"},
        "--no-worker",
        "--no-scheduler",
        "--log-json",
    )
    port = free_port()
    text = render((DEPLOY / "nginx" / "publisher.conf").read_text("utf-8"), project)
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app.port};")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("listen [::]:80;", "")
    conf = tmp_path / "nginx"
    conf.mkdir()
    (conf / "publisher.conf").write_text(text, "utf-8")
    (conf / "nginx.conf").write_text(
        NGINX_MAIN.format(tmp=conf, site=conf / "publisher.conf"), "utf-8"
    )
    checked = subprocess.run(
        [nginx, "-t", "-p", str(conf), "-c", str(conf / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    proxy = subprocess.Popen(
        [nginx, "-p", str(conf), "-c", str(conf / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app.wait_ready()
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (conf / "error.log").read_text()
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", app
    finally:
        proxy.terminate()
        proxy.wait(10)
        app.kill()


@pytest.mark.slow
def test_nginx_serves_feeds_from_disk_and_proxies_the_rest(
    site: tuple[str, Serve], project: Path
) -> None:
    base, app = site
    # A client on another loopback address, so the address nginx saw is recognisable.
    client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=5)
    with client:
        feed = client.get(f"{base}/feeds/rss.xml")
        assert feed.status_code == 200
        assert feed.headers["content-type"] == "application/rss+xml; charset=utf-8"
        assert feed.content == (project / "feeds" / "rss.xml").read_bytes()
        assert feed.headers["cache-control"] == "public, max-age=300"
        assert feed.headers["link"] == '<https://127.0.0.1/feeds/rss.xml>; rel="self"'
        assert "server" not in feed.headers or "nginx" in feed.headers["server"]
        again = client.get(f"{base}/feeds/rss.xml", headers={"If-None-Match": feed.headers["etag"]})
        assert again.status_code == 304
        atom = client.get(f"{base}/feeds/atom.xml")
        assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert client.get(f"{base}/feeds/feed.json").headers["content-type"] == (
            "application/feed+json"
        )
        assert client.get(f"{base}/feeds/.published-through").status_code == 404

        page = client.get(f"{base}/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert client.get(f"{base}/feeds/").status_code == 200  # the app's index page
        joined = client.post(
            f"{base}/subscribe",
            json={"email": "ann@example.org"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert joined.status_code in (200, 201, 202), joined.text
    app.terminate()
    records = [line for line in app.log().splitlines() if '"POST /subscribe' in line]
    assert records, app.log()
    assert '"client": "127.0.0.2:' in records[0] or '"client": "127.0.0.2"' in records[0], records
    assert "203.0.113.9" not in app.log()
    assert '"GET /feeds/rss.xml' not in app.log()  # feeds never reached the app


def test_postfix_hands_the_bounce_domain_to_the_inbound_unit() -> None:
    transport = (DEPLOY / "postfix" / "transport").read_text("utf-8")
    main_cf = (DEPLOY / "postfix" / "main.cf").read_text("utf-8")
    inbound = (UNITS / "publisher-inbound.service").read_text("utf-8")
    (listen,) = re.findall(r"--listen (\S+)", inbound)
    (domain, target) = re.findall(r"^(\S+)\s+(\S+)$", transport, re.M)[0]
    assert target == f"lmtp:inet:{listen}"
    assert re.search(rf"^relay_domains = {re.escape(domain)}$", main_cf, re.M)
    assert re.search(
        r"^smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination$", main_cf, re.M
    )
