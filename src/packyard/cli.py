"""The ``packyard`` command: serve, manage users, migrate the database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from packyard.errors import PackyardError
from packyard.settings import Settings

if TYPE_CHECKING:
    from packyard.container import Container

app = typer.Typer(help="packyard: a self-hosted conda channel, PyPI index and anaconda.org API server.",
                  no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
org_app = typer.Typer(help="Manage organizations.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(org_app, name="org")
app.add_typer(db_app, name="db")
console = Console(stderr=True)


def _prepare() -> Settings:
    """Settings, with the data folder created and the schema migrated to the newest revision."""
    from packyard.storage.db import schema

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    schema.upgrade(settings.resolved_database_url())
    return settings


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8080, help="Port to listen on"),
    workers: int = typer.Option(1, help="Worker processes (each stateless; they share the database)"),
) -> None:
    """Apply pending migrations, then serve HTTP."""
    import uvicorn

    settings = _prepare()
    settings.resolved_secret_key()  # create the shared signing key before workers race for it
    console.print(f"[bold]packyard[/] serving on http://{host}:{port}  (data: {settings.data_dir.resolve()})")
    uvicorn.run("packyard.asgi:app", host=host, port=port, workers=workers, proxy_headers=True,
                log_level="info")


@contextmanager
def _container() -> Iterator[Container]:
    """A container for one command; domain errors become a red line and exit code 1."""
    from packyard.container import Container

    c = Container(_prepare())
    try:
        yield c
    except PackyardError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        c.close()


@user_app.command("create")
def user_create(
    name: str,
    password: str = typer.Option(..., "--password", help="At least 8 characters"),
    email: str | None = typer.Option(None, "--email"),
    superuser: bool = typer.Option(False, "--superuser", help="May administer every namespace"),
) -> None:
    """Create a user (and so a namespace, a conda channel and a PyPI index)."""
    with _container() as c:
        user = c.accounts.create_user(name, password, email=email, superuser=superuser)
    console.print(f"created user [bold]{user.login}[/]" + (" (superuser)" if superuser else ""))


@user_app.command("list")
def user_list() -> None:
    """List users with their flags."""
    from rich.table import Table

    with _container() as c:
        users = c.user_admin.list()
    table = Table("login", "email", "superuser", "disabled", "created")
    for u in users:
        table.add_row(u.login, u.email or "", "yes" if u.is_superuser else "", "yes" if u.is_disabled else "",
                      u.created_at.strftime("%Y-%m-%d"))
    Console().print(table)


@user_app.command("disable")
def user_disable(name: str, enable: bool = typer.Option(False, "--enable", help="Enable again instead")) -> None:
    """Disable a user: their tokens stop working at once."""
    with _container() as c:
        c.user_admin.set_disabled(name, not enable)
    console.print(f"user [bold]{name}[/] {'enabled' if enable else 'disabled'}")


@user_app.command("reset-password")
def user_reset_password(name: str, password: str = typer.Option(..., "--password", prompt=True,
                                                                  hide_input=True)) -> None:
    """Set a new password for a user."""
    with _container() as c:
        c.user_admin.reset_password(name, password)
    console.print(f"password of [bold]{name}[/] reset")


@user_app.command("set-superuser")
def user_set_superuser(name: str, revoke: bool = typer.Option(False, "--revoke", help="Take it away")) -> None:
    """Make a user a superuser (or, with --revoke, no longer one)."""
    with _container() as c:
        c.user_admin.set_superuser(name, not revoke)
    console.print(f"user [bold]{name}[/] is {'no longer ' if revoke else ''}a superuser")


@org_app.command("create")
def org_create(name: str, owner: str = typer.Option(..., "--owner", help="The user who owns it")) -> None:
    """Create an organization (a namespace with groups) owned by a user."""
    with _container() as c:
        org = c.orgs.create(None, name, owner)
    console.print(f"created organization [bold]{org.login}[/] owned by {owner}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    _prepare()
    console.print("database is at the newest revision")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree (a migration is missing)."""
    from alembic.util import CommandError

    from packyard.storage.db import schema

    settings = _prepare()
    try:
        schema.check(settings.resolved_database_url())
    except CommandError as exc:
        console.print(f"[red]models and migrations drift:[/] {exc}")
        raise typer.Exit(1) from None
    console.print("models and migrations agree")


def main() -> None:
    app(prog_name="packyard")


if __name__ == "__main__":
    sys.exit(main())
