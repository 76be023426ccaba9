"""``publisher admin add-user EMAIL``: an editor who may sign in to the dashboard at /admin."""

from __future__ import annotations

import sys

import click

from publisher.cli.app import AppContext, main, pass_app
from publisher.exceptions import AdminError


@main.group("admin")
def admin_group() -> None:
    """The editor dashboard (/admin): its users."""


@admin_group.command("add-user")
@click.argument("email")
@pass_app
def add_user(app: AppContext, email: str) -> None:
    """Add an editor (or set a new password). Prompts twice on a terminal; otherwise the
    password is the first line of standard input. At least 12 characters."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise AdminError("no password on standard input", "password")
    user = app.publisher().admin.add_user(email, password)
    click.echo(f"editor {user.email} can sign in at /admin/login")
