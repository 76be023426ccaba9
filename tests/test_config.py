"""Settings: precedence, validation of every kind of value, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher.cli import main
from publisher.cli.config_cmd import effective_settings, settings_markdown
from publisher.config import Secret, load_settings, settings_table
from publisher.exceptions import ConfigError


def test_defaults_load_on_an_empty_folder(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.database.url == "sqlite:///var/publisher.db"
    assert settings.database_url == f"sqlite:///{(tmp_path / 'var/publisher.db').resolve()}"
    assert settings.feeds.dir == Path("feeds")
    assert settings.sources == {}


def test_environment_beats_dotenv_beats_toml(project: Path) -> None:
    (project / ".env").write_text(
        "PUBLISHER_SITE__TITLE=From dotenv\nPUBLISHER_SITE__TIMEZONE=Asia/Tokyo\n"
    )
    settings = load_settings(project, environ={"PUBLISHER_SITE__TITLE": "From env"})
    assert settings.site.title == "From env"
    assert settings.sources["site.title"] == "environment"
    assert settings.site.timezone == "Asia/Tokyo"
    assert settings.sources["site.timezone"].endswith(".env")
    assert settings.site.url == "https://news.example.org"
    assert settings.sources["site.url"].endswith("publisher.toml")


def test_every_problem_is_reported_at_once_with_its_source(project: Path) -> None:
    (project / ".env").write_text("PUBLISHER_SMTP__PORT=twenty-five\n")
    environ = {
        "PUBLISHER_SITE__TIMEZONE": "Mars/Olympus",
        "PUBLISHER_SITE__URL": "not a url",
        "PUBLISHER_MAIL__TRANSPORT": "pigeon",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(project, environ=environ)
    problems = caught.value.problems
    assert len(problems) == 4
    text = "\n".join(problems)
    assert "site.timezone (PUBLISHER_SITE__TIMEZONE, from environment)" in text
    assert "smtp.port (PUBLISHER_SMTP__PORT, from " in text and ".env)" in text
    assert "'pigeon' must be one of outbox, smtp" in text
    assert "site.url" in text


def test_unknown_and_broken_toml_are_errors(project: Path) -> None:
    (project / "config" / "publisher.toml").write_text("[site]\nurll = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown setting .site\.urll."):
        load_settings(project, environ={})
    (project / "config" / "publisher.toml").write_text("[site\n")
    with pytest.raises(ConfigError, match="cannot be read as TOML"):
        load_settings(project, environ={})


def test_types_are_converted(project: Path) -> None:
    settings = load_settings(
        project,
        environ={
            "PUBLISHER_SMTP__PORT": "2525",
            "PUBLISHER_SMTP__RATE": "12.5",
            "PUBLISHER_DIGEST__SEND_EMPTY": "yes",
            "PUBLISHER_FEEDS__HUBS": "https://hub.one/, https://hub.two/",
        },
    )
    assert settings.smtp.port == 2525
    assert settings.smtp.rate == 12.5
    assert settings.digest.send_empty is True
    assert settings.feeds.hubs == ("https://hub.one/", "https://hub.two/")


def test_secrets_are_masked_everywhere(project: Path) -> None:
    settings = load_settings(
        project, environ={"PUBLISHER_SMTP__PASSWORD": "hunter2", "PUBLISHER_SECRET_KEY": "k" * 40}
    )
    assert isinstance(settings.smtp.password, Secret)
    assert settings.smtp.password == "hunter2"
    assert "hunter2" not in repr(settings)
    shown = json.dumps(effective_settings(settings))
    assert "hunter2" not in shown and "k" * 40 not in shown
    assert "********" in shown


def test_config_show_json_names_sources(project: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--root", str(project), "config", "show", "--json"],
        env={"PUBLISHER_SMTP__PASSWORD": "hunter2"},
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["smtp.password"] == {
        "name": "smtp.password",
        "env": "PUBLISHER_SMTP__PASSWORD",
        "value": "********",
        "source": "environment",
    }
    assert rows["site.url"]["source"].endswith("publisher.toml")
    assert set(rows) == {info.name for info in settings_table()}


def test_bad_setting_is_one_line_and_exit_code(project: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--root", str(project), "config", "show"],
        env={"PUBLISHER_DIGEST__DAILY_AT": "25:00"},
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "digest.daily_at (PUBLISHER_DIGEST__DAILY_AT, from environment)" in result.output


def test_every_setting_is_documented() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "settings.md").read_text(encoding="utf-8")
    for info in settings_table():
        assert info.help
        assert f"`{info.env}`" in docs, f"{info.env} missing from docs/settings.md"
    assert docs == settings_markdown(), "docs/settings.md is stale: publisher config docs"
