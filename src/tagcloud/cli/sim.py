"""Commands of the synthetic province simulator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer


def simulate(
    subscribers: int = typer.Option(2000, "--subscribers", "-n", help="number of our subscribers"),
    days: int = typer.Option(30, "--days", "-d", help="days to simulate"),
    seed: int = typer.Option(1, "--seed", "-s", help="random seed (same seed, same files)"),
    out: Path = typer.Option(..., "--out", "-o", help="output directory"),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv"),
    start: str = typer.Option("2026-09-15", "--start", help="first day YYYY-MM-DD"),
    delimiter: str = typer.Option(",", "--delimiter", help="CSV delimiter: ',', '|' or tab"),
    encoding: str = typer.Option("utf-8", "--encoding", help="CSV encoding: utf-8 or gbk"),
    market: bool = typer.Option(
        False, "--market/--no-market", help="daily joins, rivals' new numbers and planted KPI anomalies"
    ),
) -> None:
    """Simulate a province of subscribers day by day into DIR (every table of the model + ground truth)."""
    from tagcloud.sim.simulate import simulate as run

    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"--start {start!r} is not a date YYYY-MM-DD") from None
    try:
        m = run(
            out,
            subscribers,
            days,
            seed,
            fmt=fmt,
            start=first,
            delimiter=delimiter,
            encoding=encoding,
            market=market,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(f"wrote {sum(m['rows'].values()):,} rows in {len(m['rows'])} tables to {out}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
