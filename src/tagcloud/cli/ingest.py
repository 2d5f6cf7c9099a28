"""Commands that bring data in: ``ingest`` (validate a drop into the warehouse) and ``damage``."""

from __future__ import annotations

from pathlib import Path

import typer


def ingest_cmd(
    source_dir: Path = typer.Argument(..., help="folder of the drop (a simulator export or operator files)"),
    warehouse: Path | None = typer.Option(
        None, help="warehouse folder (default: $TAGCLOUD_WAREHOUSE or var/warehouse)"
    ),
    strict: bool = typer.Option(False, help="exit 1 if any row was quarantined or any file failed"),
    encoding: str = typer.Option("auto", help="text encoding: auto (per file), utf-8 or gbk"),
) -> None:
    """Validate every file of SOURCE_DIR against the model and load it into the warehouse.

    Bad rows go to the quarantine with a reason; the reconciliation (read = accepted + quarantined)
    is printed per table and stored in the ledger. Re-running is safe: unchanged files are skipped.
    """
    from rich.console import Console

    from tagcloud.data.ingest import IngestError, IngestOptions, ingest, render_report
    from tagcloud.data.ledger import FileStatus
    from tagcloud.data.warehouse import default_warehouse

    try:
        report = ingest(source_dir, warehouse or default_warehouse(), IngestOptions(encoding=encoding))
    except IngestError as e:
        raise typer.BadParameter(str(e)) from None
    console = Console()
    for r in render_report(report):
        console.print(r)
    bad_files = report.with_status(FileStatus.FAILED, FileStatus.UNRECOGNISED)
    if strict and (report.quarantined or bad_files):
        console.print(
            f"[red]strict: {report.quarantined:,} rows quarantined, {len(bad_files)} files not loaded"
        )
        raise typer.Exit(1)


def damage_cmd(
    clean_dir: Path = typer.Argument(..., help="a clean simulator export"),
    out_dir: Path = typer.Argument(..., help="where to write the damaged copy (must not exist or be empty)"),
    seed: int = typer.Option(7, help="random seed: the same seed gives the same damage"),
) -> None:
    """Write a deliberately damaged copy of CLEAN_DIR, with damage_manifest.json saying what was
    damaged and the counts per table and reason that ingestion must report."""
    from tagcloud.data.damage import DamageError, damage

    try:
        manifest = damage(clean_dir, out_dir, seed=seed)
    except DamageError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(
        f"wrote {out_dir}: {sum(sum(r.values()) for r in manifest['expected_reasons'].values()):,} damaged rows, "
        f"{len(manifest['failed_files'])} damaged files, {len(manifest['unrecognised_files'])} stray files"
    )


def warehouse_cmd(
    warehouse: Path | None = typer.Option(
        None, help="warehouse folder (default: $TAGCLOUD_WAREHOUSE or var/warehouse)"
    ),
    cluster: bool = typer.Option(
        False,
        "--cluster",
        help="first rewrite event and fact files sorted by subscriber (warehouses ingested before "
        "ingest did so; the tag build is several times faster on them)",
    ),
) -> None:
    """Show what the warehouse holds: tables, rows, periods, quarantine, recent runs, dirty periods."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.data.warehouse import Warehouse, default_warehouse, status

    wh = Warehouse(warehouse or default_warehouse())
    if not wh.root.is_dir():
        raise typer.BadParameter(f"warehouse {wh.root}: not a directory (run tagcloud ingest first)")
    if cluster:
        from tagcloud.data.ingest import IngestError
        from tagcloud.data.ingest import cluster as cluster_files

        try:
            cluster_files(wh)
        except IngestError as e:
            raise typer.BadParameter(str(e)) from None
    st = status(wh)
    console = Console()
    t = Table(title=f"Warehouse {wh.root}")
    for h in ("table", "files", "rows", "periods", "first", "last", "quarantined"):
        t.add_column(h, justify="left" if h in ("table", "first", "last") else "right")
    for row in st["tables"]:  # type: ignore[attr-defined]
        t.add_row(*(f"{v:,}" if isinstance(v, int) else str(v or "") for v in row.values()))
    console.print(t)
    runs = Table(title="Recent ingest runs")
    for h in ("run", "status", "started", "files", "failed", "read", "accepted", "quarantined"):
        runs.add_column(h)
    for r in st["runs"]:  # type: ignore[attr-defined]
        runs.add_row(*(f"{v:,}" if isinstance(v, int) else str(v or "") for v in r))
    console.print(runs)
    dirty = st["dirty"]
    if dirty:
        d = Table(title="Dirty periods waiting for the tag builder")
        for h in ("table", "reason", "periods"):
            d.add_column(h)
        for (table, reason), n in sorted(dirty.items()):  # type: ignore[attr-defined]
            d.add_row(table, reason, f"{n:,}")
        console.print(d)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    app.command("damage")(damage_cmd)
    app.command("warehouse")(warehouse_cmd)
