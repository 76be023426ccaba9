"""First-run traps: a misspelled variable, a changed port, a port already taken."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from localhost import free_port

from publisher.cli import main
from publisher.config import load_settings

SECRET = "first-run-secret-0123456789abcdef0123456789"


def test_site_url_follows_the_port_when_unset(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"PUBLISHER_WEB__PORT": "8123"})
    assert settings.site.url == "http://127.0.0.1:8123"
    everywhere = load_settings(tmp_path, environ={"PUBLISHER_WEB__HOST": "0.0.0.0"})
    assert everywhere.site.url == "http://127.0.0.1:8000"


def test_a_set_site_url_stays_whatever_the_port(project: Path) -> None:
    settings = load_settings(project, environ={"PUBLISHER_WEB__PORT": "8123"})
    assert settings.site.url == "https://news.example.org"


def test_misspelled_names_warn_with_the_closest_valid_one(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PUBLISHER_SMPT__HOST=mail.example.org\n", encoding="utf-8")
    environ = {"PUBLISHER_SITE_URL": "https://x.example", "PUBLISHER_TEST_ANYTHING": "1"}
    settings = load_settings(tmp_path, environ=environ)
    assert len(settings.warnings) == 2, settings.warnings
    dotenv, env = settings.warnings
    assert dotenv.endswith(
        "PUBLISHER_SMPT__HOST is not a setting (ignored); did you mean PUBLISHER_SMTP__HOST?"
    )
    assert "environment: PUBLISHER_SITE_URL" in env and "PUBLISHER_SITE__URL?" in env
    assert settings.smtp.host == "localhost"  # ignored, as the warning says


def test_the_cli_prints_the_warning_and_still_runs(tmp_path: Path) -> None:
    env = {"PUBLISHER_SMTP_PORT": "2525", "PUBLISHER_SECRET_KEY": SECRET}
    result = CliRunner().invoke(main, ["--root", str(tmp_path), "config", "show"], env=env)
    assert result.exit_code == 0
    assert "warning: environment: PUBLISHER_SMTP_PORT is not a setting" in result.output
    assert "did you mean PUBLISHER_SMTP__PORT?" in result.output


def test_a_toml_typo_names_the_setting_it_meant(project: Path) -> None:
    (project / "config" / "publisher.toml").write_text('[smtp]\nhots = "x"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--root", str(project), "config", "show"], env={})
    assert result.exit_code == 1
    assert "unknown setting 'smtp.hots'; did you mean smtp.host (PUBLISHER_SMTP__HOST)?" in (
        result.output
    )


@pytest.mark.slow
def test_a_busy_port_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        environ = {**os.environ, "PUBLISHER_SECRET_KEY": SECRET, "PUBLISHER_WEB__PORT": str(port)}
        environ.pop("PUBLISHER_ROOT", None)
        done = subprocess.run(
            [sys.executable, "-m", "publisher", "--root", str(tmp_path), "serve"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use by another program; choose "
        "another with `publisher serve --port N` or PUBLISHER_WEB__PORT=N"
    ]
    assert "home page" not in done.stdout + done.stderr


def test_serve_warns_when_a_set_site_url_names_another_port(project: Path) -> None:
    from publisher.cli.listen import port_mismatch

    (project / "config" / "publisher.toml").write_text(
        '[site]\nurl = "http://127.0.0.1:8000"\n', encoding="utf-8"
    )
    settings = load_settings(project, environ={})
    warning = port_mismatch(settings, 8001, behind_proxy=False)
    assert warning is not None and "names port 8000 but serve listens on 8001" in warning
    assert port_mismatch(settings, 8000, behind_proxy=False) is None
    assert port_mismatch(settings, 8001, behind_proxy=True) is None
    unset = load_settings(project.parent, environ={})  # no site.url: it follows the port
    assert port_mismatch(unset, 8001, behind_proxy=False) is None
