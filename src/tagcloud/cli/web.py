"""Commands of the web platform: serve it, prepare its database, load reference data, demo users."""

from __future__ import annotations

from pathlib import Path

import typer

web_app = typer.Typer(help="The marketers' web platform (Django).", no_args_is_help=True)


def _django(warehouse: Path | None = None) -> None:
    import os

    if warehouse is not None:
        os.environ["TAGCLOUD_WAREHOUSE"] = str(warehouse.resolve())
    from tagcloud.web import setup_django

    setup_django()


def _migrate() -> None:
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        Path(settings.DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)


@web_app.command("migrate")
def migrate() -> None:
    """Create or upgrade the platform's database (SQLite, or TAGCLOUD_DATABASE_URL)."""
    _django()
    _migrate()
    typer.echo("database up to date")


@web_app.command("load-reference")
def load_reference(
    warehouse: Path = typer.Option(Path("var/demo/warehouse"), help="warehouse directory to read"),
) -> None:
    """Load regions, cells, products and channels from the warehouse (upsert; admins edit them after)."""
    _django(warehouse)
    _migrate()
    from tagcloud.web.reference.load import ReferenceLoadError, load_from_warehouse

    try:
        n = load_from_warehouse(warehouse)
    except ReferenceLoadError as e:
        raise typer.BadParameter(str(e), param_hint="--warehouse") from None
    typer.echo(f"loaded {n.regions} regions, {n.cells} cells, {n.products} products, {n.channels} channels")


@web_app.command("load-tags")
def load_tags(
    warehouse: Path = typer.Option(
        Path("var/demo/warehouse"), help="warehouse whose approved versions to include"
    ),
) -> None:
    """Load the tag catalogue (package definitions + the warehouse's approved versions) into the
    platform's database: statuses and versions for the tag pages (idempotent; keeps local versions)."""
    _django(warehouse)
    _migrate()
    from tagcloud.tags.catalogue import CatalogueError
    from tagcloud.web.taglib.governance import load_from_warehouse

    try:
        n = load_from_warehouse(warehouse)
    except CatalogueError as e:
        raise typer.BadParameter(str(e), param_hint="--warehouse") from None
    typer.echo(
        f"loaded {n.tags} tags: {n.added} versions added, {n.updated} updated, "
        f"{n.local_kept} local versions kept that the catalogue lacks"
    )


@web_app.command("create-demo-users")
def create_demo_users(prefix: str = typer.Option("demo_", help="login prefix")) -> None:
    """Create (or reset) one account per role and print each login and password."""
    _django()
    _migrate()
    from tagcloud.web.accounts.demo import create_demo_users as create

    try:
        accounts = create(prefix)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    from rich.console import Console
    from rich.table import Table

    t = Table("role", "login", "password", "region", title="Demo accounts")
    for a in accounts:
        t.add_row(f"{a.role_name} ({a.role})", a.username, a.password, f"{a.region_name} ({a.region_id})")
    Console().print(t)


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port"),
    warehouse: Path = typer.Option(Path("var/demo/warehouse"), help="warehouse the pages read"),
    threads: int = typer.Option(8, help="worker threads"),
    https: bool = typer.Option(
        False, "--https", help="production: behind a TLS proxy (secure cookies, HSTS, redirect to https)"
    ),
    proxy: str = typer.Option(
        "127.0.0.1", help="with --https: the proxy's address, trusted for X-Forwarded-*"
    ),
    with_worker: bool = typer.Option(
        False, "--with-worker", help="also run `tagcloud worker` beside the server"
    ),
) -> None:
    """Run the web platform (waitress) on HOST:PORT, after bringing the database up to date."""
    import os

    if https:
        os.environ["TAGCLOUD_HTTPS"] = "1"  # read by the settings (tagcloud.web.security.settings)
    _django(warehouse)
    _migrate()
    import errno
    import socket

    from waitress import serve as waitress_serve

    from tagcloud.web.wsgi import application

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise typer.BadParameter(
                    f"{host}:{port} is already in use (another server?); choose another with --port",
                    param_hint="--port",
                ) from None
            raise
    worker = None
    if with_worker:
        from tagcloud.cli.jobs import start_worker_process

        worker = start_worker_process()
    typer.echo(f"Tagcloud web platform on http://{host}:{port}/  (warehouse {warehouse})")
    # Behind the proxy waitress takes the scheme and client address from it (and from no one else).
    behind = {"trusted_proxy": proxy, "trusted_proxy_headers": "x-forwarded-proto x-forwarded-for"}
    try:
        waitress_serve(application, host=host, port=port, threads=threads, **(behind if https else {}))
    finally:
        if worker is not None:
            worker.terminate()  # type: ignore[attr-defined]


def register(app: typer.Typer) -> None:
    app.add_typer(web_app, name="web")
    app.command("serve")(serve)
