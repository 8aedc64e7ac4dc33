"""The ``packyard`` command: serve, manage users, migrate the database."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from packyard.errors import PackyardError
from packyard.settings import Settings

app = typer.Typer(help="packyard: a self-hosted conda channel, PyPI index and anaconda.org API server.",
                  no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(user_app, name="user")
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


@user_app.command("create")
def user_create(
    name: str,
    password: str = typer.Option(..., "--password", help="At least 8 characters"),
    email: str | None = typer.Option(None, "--email"),
    superuser: bool = typer.Option(False, "--superuser", help="May administer every namespace"),
) -> None:
    """Create a user (and so a namespace, a conda channel and a PyPI index)."""
    from packyard.container import Container

    settings = _prepare()
    c = Container(settings)
    try:
        user = c.accounts.create_user(name, password, email=email, superuser=superuser)
    except PackyardError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        c.close()
    console.print(f"created user [bold]{user.login}[/]" + (" (superuser)" if superuser else ""))


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
