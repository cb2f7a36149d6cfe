"""``flask users ...``: create the first administrator and manage people from the command line.

Passwords are read from standard input (``--password-stdin``) or asked for without echo, never
taken from the command line, where they would land in the shell history and ``ps``. Every
change is recorded in the audit trail as made from the command line.

    echo "$PASSWORD" | flask users create alice --role admin --password-stdin
    flask users create bob --role maker --store "50682288 zone=50682286 concept=50678331" --password-stdin
    flask users list
    flask users disable bob
    flask users set-password bob --password-stdin
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from extensions import db
from models.users import ROLES
from services.people import accounts

users_cli = AppGroup("users", help="Manage the people who can sign in.")


def init_app(app: Flask) -> None:
    """Register the ``flask users`` group."""
    app.cli.add_command(users_cli)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise click.UsageError("No password on standard input.")
        return password
    if not sys.stdin.isatty():
        raise click.UsageError("Give the password on standard input with --password-stdin.")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user_or_fail(name: str):
    user = accounts.find_user(name)
    if user is None:
        raise click.ClickException(f"There is no user called {name.strip().lower()}.")
    return user


@users_cli.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="A role; repeat for several.")
@click.option("--store", "stores", multiple=True, metavar="'STORE_ID [zone=ID] [concept=ID] [till=ID]'",
              help="A store a maker may submit for; repeat for several.")
@click.option("--display-name", default="", help="The name shown on pages.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(name: str, roles: tuple[str, ...], stores: tuple[str, ...], display_name: str, password_stdin: bool):
    """Create the user NAME (the first one should be an admin)."""
    password = _read_password(password_stdin)
    try:
        user = accounts.create_user(name, roles, password, stores, display_name, actor=None)
    except accounts.PeopleError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.username} ({', '.join(user.roles)}).")


@users_cli.command("list")
def list_users():
    """List every user: roles, stores, state, personal token state (never its value)."""
    from sqlalchemy import select

    from models.users import User

    rows = db.session.scalars(select(User).order_by(User.username)).all()
    if not rows:
        click.echo("No users yet: create the first administrator with "
                   "`flask users create NAME --role admin --password-stdin`.")
        return
    for user in rows:
        stores = "; ".join(s.describe() for s in user.stores) or "-"
        state = "disabled" if user.disabled else "active"
        click.echo(f"{user.username}\t{','.join(user.roles)}\tstores: {stores}\t{state}\t"
                   f"token: {user.token_state().value}")


@users_cli.command("disable")
@click.argument("name")
def disable(name: str):
    """Disable NAME: they cannot sign in, and their sessions end at once."""
    _set_disabled(name, True)


@users_cli.command("enable")
@click.argument("name")
def enable(name: str):
    """Enable NAME again."""
    _set_disabled(name, False)


def _set_disabled(name: str, disabled: bool) -> None:
    user = _user_or_fail(name)
    word = "disabled" if disabled else "enabled"
    if user.disabled == disabled:
        click.echo(f"{user.username} is already {word}.")
        return
    accounts.set_disabled(user, disabled, actor=None)
    db.session.commit()
    click.echo(f"{word.capitalize()} {user.username}.")


@users_cli.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password(name: str, password_stdin: bool):
    """Set a new password for NAME (their sessions end)."""
    user = _user_or_fail(name)
    password = _read_password(password_stdin)
    try:
        accounts.set_password(user, password, actor=None)
    except accounts.PeopleError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"New password set for {user.username}.")
