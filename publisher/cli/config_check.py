"""``publisher config check``: one line per thing checked, exit 1 when any is a problem."""

from __future__ import annotations

import sys

import click

from publisher.cli.app import AppContext, echo_json, pass_app
from publisher.cli.config_cmd import config_group
from publisher.core import Finding, check_store
from publisher.exceptions import ConfigError


@config_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@pass_app
def config_check(app: AppContext, as_json: bool) -> None:
    """Check settings, the database (reachable, migrated), SMTP (NOOP), the DKIM key
    against DNS and the templates; exit 1 with a line per problem."""
    findings = _findings(app)
    if as_json:
        echo_json([vars(f) for f in findings])
    else:
        for finding in findings:
            click.echo(finding.line(), err=finding.status == "problem")
    if any(f.status == "problem" for f in findings):
        sys.exit(1)


def _findings(app: AppContext) -> list[Finding]:
    try:
        settings = app.settings
    except ConfigError as exc:
        return [Finding("settings", "problem", problem) for problem in exc.problems]
    findings = [Finding("settings", "ok", f"{len(settings.sources)} set, the rest default")]
    store = check_store(settings)
    findings.append(store)
    if store.status == "ok":
        findings += app.publisher().ops.check()
    return findings
