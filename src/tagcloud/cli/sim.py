"""Commands of the synthetic province simulator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer


def simulate(
    subscribers: int = typer.Option(2000, "--subscribers", "-n", help="number of our subscribers"),
    days: int = typer.Option(30, "--days", "-d", help="days to simulate"),
    seed: int | None = typer.Option(
        None,
        "--seed",
        "-s",
        help="random seed (same seed, same files); default 1, or 1001 with --profile test",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="output directory"),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv"),
    start: str = typer.Option("2026-09-15", "--start", help="first day YYYY-MM-DD"),
    delimiter: str = typer.Option(",", "--delimiter", help="CSV delimiter: ',', '|' or tab"),
    encoding: str = typer.Option("utf-8", "--encoding", help="CSV encoding: utf-8 or gbk"),
    market: bool = typer.Option(
        False, "--market/--no-market", help="daily joins, rivals' new numbers and planted KPI anomalies"
    ),
    profile: str = typer.Option(
        "dev",
        "--profile",
        help="dev (what the models are tuned on) or test (other seed, drawn knobs, more realism)",
    ),
) -> None:
    """Simulate a province of subscribers day by day into DIR (every table of the model + ground truth)."""
    from tagcloud.sim.simulate import simulate as run

    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"--start {start!r} is not a date YYYY-MM-DD") from None
    try:
        if seed is None:
            seed = 1001 if profile == "test" else 1
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
            profile=profile,
        )
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(f"wrote {sum(m['rows'].values()):,} rows in {len(m['rows'])} tables to {out}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
