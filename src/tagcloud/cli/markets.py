"""Commands of the regional markets: cell-change detection and reminders, the township info base
from a sheet, rural channel monitoring (table 2)."""

from __future__ import annotations

from pathlib import Path

import typer

markets_app = typer.Typer(help="Regional markets: cells, townships, rural channels.", no_args_is_help=True)


def _django(warehouse: Path | None) -> None:
    from tagcloud.cli.web import _django as setup
    from tagcloud.cli.web import _migrate

    setup(warehouse)
    _migrate()


@markets_app.command("detect-cells")
def detect_cells(
    warehouse: Path = typer.Option(Path("var/demo/warehouse"), help="warehouse with the cell feed"),
) -> None:
    """Compare the warehouse's latest cell drop with the reference cells; open a task per change
    and message the region's cell owners."""
    _django(warehouse)
    from tagcloud.regions.cells import feed_cells
    from tagcloud.web.markets.service import detect_cell_changes

    n = detect_cell_changes(feed_cells(warehouse))
    typer.echo(f"{n} new cell changes to classify")


@markets_app.command("remind-cells")
def remind_cells(
    days: int = typer.Option(7, help="remind when a change has waited longer than this"),
) -> None:
    """Message the owners of cell changes left unclassified (at most once a day per task)."""
    _django(None)
    from tagcloud.web.markets.service import remind_stale_cells

    typer.echo(f"{remind_stale_cells(days=days)} reminders sent")


@markets_app.command("import-townships")
def import_townships(
    sheet: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or XLSX, table 1's columns"),
    user: str = typer.Option(..., help="the account the import is recorded under (its region limits it)"),
) -> None:
    """Import the township info base: every row valid → all written as new versions; else nothing."""
    _django(None)
    from django.contrib.auth.models import User

    from tagcloud.regions.rural import SheetError, read_sheet
    from tagcloud.web.accounts.scope import scope_for_user
    from tagcloud.web.markets.service import import_townships as run

    account = User.objects.filter(username=user).first()
    if account is None or not account.has_perm("accounts.edit_township_info"):
        raise typer.BadParameter(
            f"{user!r} is not an account allowed to edit the township info base", param_hint="--user"
        )
    try:
        rows = read_sheet(sheet.read_bytes(), sheet.name)
    except SheetError as e:
        raise typer.BadParameter(str(e), param_hint="SHEET") from None
    changed, errors = run(rows, scope_for_user(account), account, sheet.name)
    for err in errors:
        typer.echo(f"row {err.row} {err.field}: {err.message}", err=True)
    if errors:
        typer.echo(f"{len(errors)} errors in {len(rows)} rows: nothing imported", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(rows)} rows read, {changed} townships changed")


@markets_app.command("load-townships")
def load_townships(
    warehouse: Path = typer.Option(Path("var/demo/warehouse"), help="warehouse directory"),
) -> None:
    """Seed the township info base from the warehouse's townships table (all rows or none)."""
    _django(warehouse)
    from tagcloud.web.markets.service import load_townships_from_warehouse

    changed, errors = load_townships_from_warehouse(warehouse)
    for err in errors[:20]:
        typer.echo(f"row {err.row} {err.field}: {err.message}", err=True)
    if errors:
        typer.echo(f"{len(errors)} errors: nothing loaded", err=True)
        raise typer.Exit(1)
    typer.echo(f"{changed} townships loaded or changed")


@markets_app.command("channels")
def channels(
    month: str = typer.Argument(..., help="YYYY-MM"),
    warehouse: Path = typer.Option(Path("var/demo/warehouse"), help="warehouse directory"),
) -> None:
    """Rural channel monitoring (table 2) for a month: customers developed, revenue, new-service
    penetration and repeat-SIM ratio by township and channel."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.data.warehouse import Warehouse
    from tagcloud.regions.rural import channel_monitoring

    con = Warehouse(warehouse).connect()
    try:
        tbl = channel_monitoring(con, month)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="MONTH") from None
    finally:
        con.close()
    out = Table(*tbl.column_names)
    for row in tbl.to_pylist():
        out.add_row(*(str(v) for v in row.values()))
    Console().print(out)
    typer.echo(f"{tbl.num_rows} township × channel rows")


def register(app: typer.Typer) -> None:
    app.add_typer(markets_app, name="markets")
