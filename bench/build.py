"""Benchmark: the tag build (every attribute and tag of the catalogue) over a simulated province.

Simulates and ingests a province (or reuses a warehouse), then in the same run measures:

* the baseline: DuckDB reading every input row of the window once (``count(*)`` per column set
  the sources read), i.e. the floor a build cannot beat;
* the URL/app translation of the window's xDR (the DWD step a daily build keeps per day), alone;
* the full DuckDB build (``--force``: no cached source parts) over the translated days, rows
  scanned per second, and with the translation added;
* the same catalogue on Spark local mode (the same SQL through SQLGlot), as a ratio.

    uv run python bench/build.py --subscribers 100000 --days 30      # a realistic month
    uv run python bench/build.py --warehouse /path/to/wh --period 2026-10
    uv run python bench/build.py --quick                               # run by tests/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tagcloud.tags.build import BuildResult, Window


@dataclass
class Result:
    subscribers: int
    days: int
    rows_scanned: int
    baseline_seconds: float
    duckdb_seconds: float
    spark_seconds: float | None
    columns: int
    wide_rows: int
    per_engine_rows: dict[str, int] = field(default_factory=dict)
    identical: bool | None = None
    translate_seconds: float = 0.0  # the window's xDR translated again (the DWD step, per day)
    translated_rows: int = 0
    slices: int = 1  # ranges of subscribers each source ran over
    one_piece_seconds: float | None = None  # the same build with every source in one piece
    one_piece_identical: bool | None = None

    @property
    def duckdb_rate(self) -> float:
        return self.rows_scanned / self.duckdb_seconds if self.duckdb_seconds else 0.0


def _baseline(warehouse: Path, window: Window) -> tuple[float, int]:
    """Seconds for DuckDB to read every input row of the window once, and the rows read."""
    from tagcloud.data.model import TABLES
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.tags.build import _relation_files
    from tagcloud.tags.engines.duckdb import DuckDBEngine

    wh = Warehouse(warehouse)
    eng = DuckDBEngine()
    from tagcloud.tags.catalogue import model_schema

    schema = model_schema()
    t0 = time.perf_counter()
    rows = 0
    for table in TABLES:
        files, base, where = _relation_files(wh, table, window)
        eng.register_files(table, files, base, schema[table], where)
        cols = ", ".join(f'count("{c}")' for c in schema[table])
        row = eng.con.execute(f'SELECT count(*), {cols} FROM "{table}"').fetchone()
        rows += int(row[0]) if row else 0
    seconds = time.perf_counter() - t0
    eng.close()
    return seconds, rows


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subscribers", type=int, default=100_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--warehouse", type=Path, help="reuse this warehouse (skip simulation and ingest)")
    p.add_argument("--keep", type=Path, help="simulate and ingest into this folder and keep it")
    p.add_argument("--period", default="2026-10")
    p.add_argument("--day", help="with --warehouse: the 30 days ending this day instead of --period")
    p.add_argument(
        "--slice-subscribers",
        type=int,
        help="subscribers per slice (default: the engine's, 100,000; 0: every source in one piece)",
    )
    p.add_argument(
        "--compare-slices",
        action="store_true",
        help="also build with every source in one piece (no slices of subscribers), side by side",
    )
    p.add_argument("--no-spark", action="store_true", help="DuckDB only")
    p.add_argument("--quick", action="store_true", help="300 subscribers × 4 days, both engines")
    p.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 12GB (default: DuckDB's, 80%% of RAM)")
    args = p.parse_args(argv)
    if args.quick:  # slices of 100 subscribers, so that the quick run exercises them too
        args.subscribers, args.days = 300, 4
        args.slice_subscribers, args.compare_slices = 100, True

    from tagcloud.data.warehouse import Warehouse
    from tagcloud.sim.simulate import simulated_warehouse
    from tagcloud.tags.build import build
    from tagcloud.tags.catalogue import load_catalogue

    tmp = Path(tempfile.mkdtemp(prefix="bench_build_"))
    try:
        if args.warehouse:
            wh = args.warehouse
        else:
            wh = args.keep or tmp / "wh"
            t0 = time.perf_counter()
            start = dt.date.fromisoformat(args.period + "-01")
            simulated_warehouse(wh, args.subscribers, args.days, start=start, work=tmp)
            print(
                f"province: {args.subscribers:,} subscribers × {args.days} days in {time.perf_counter() - t0:,.1f} s"
            )
        cat = load_catalogue()
        from tagcloud.tags.build import day_window, month_window, translated_days

        window = day_window(args.day) if args.day else month_window(args.period)
        when = {"day": args.day} if args.day else {"period": args.period}
        base_s, base_rows = _baseline(wh, window)
        opts = {"memory_limit": args.memory_limit} if args.memory_limit else None
        # The xDR's URL/app translation is the DWD step, kept per day: timed on its own, then the
        # build (every source part recomputed) reads the translated days.
        t0 = time.perf_counter()
        days = translated_days(Warehouse(wh), window, force=True)
        trans_s = time.perf_counter() - t0
        trans_rows = sum(_footer(f) for f, _ in days)

        def duckdb_build(slice_subscribers: int | None) -> BuildResult:
            return build(
                wh,
                **when,
                catalogue=cat,
                force=True,
                force_translate=False,
                quiet=True,
                skip_missing_models=True,
                engine_options=opts,
                slice_subscribers=slice_subscribers,
            )

        r = duckdb_build(args.slice_subscribers)
        result = Result(
            subscribers=args.subscribers,
            days=args.days,
            rows_scanned=r.rows_scanned,
            baseline_seconds=base_s,
            duckdb_seconds=r.seconds,
            spark_seconds=None,
            columns=len(r.columns),
            wide_rows=r.rows,
            per_engine_rows={"duckdb": r.rows},
            translate_seconds=trans_s,
            translated_rows=trans_rows,
            slices=r.slices,
        )
        print(
            f"baseline (DuckDB reads the window's {base_rows:,} input rows once): {base_s:,.2f} s "
            f"({base_rows / base_s:,.0f} rows/s)"
        )
        print(
            f"URL/app translation of the window's xDR (DWD, per day as each day lands): {trans_s:,.1f} s "
            f"for {trans_rows:,} records ({trans_rows / max(trans_s, 1e-9):,.0f} records/s), "
            f"{trans_s / max(len(days), 1):,.1f} s per day"
        )
        print(
            f"duckdb build: {r.rows:,} subscribers × {len(r.columns)} columns in {r.seconds:,.1f} s "
            f"(every source recomputed in {r.slices} slice(s) of subscribers, translated xDR read); "
            f"{r.rows_scanned:,} rows scanned by sources "
            f"({result.duckdb_rate:,.0f} rows/s); {r.seconds / base_s:,.1f}× the baseline; "
            f"with the translation {r.seconds + trans_s:,.1f} s"
        )
        slow = sorted(
            {c.source: c.seconds for c in r.columns if c.kind == "attribute"}.items(), key=lambda kv: -kv[1]
        )
        print("slowest sources: " + ", ".join(f"{k} {v:,.1f} s" for k, v in slow[:6]))
        if args.compare_slices:
            import pyarrow.parquet as pq

            sliced = pq.read_table(r.path / "wide.parquet")
            one = duckdb_build(0)
            result.one_piece_seconds = one.seconds
            result.one_piece_identical = _same(sliced, pq.read_table(one.path / "wide.parquet"))
            print(
                f"duckdb build, every source in one piece: {one.seconds:,.1f} s; in {r.slices} slices of "
                f"subscribers {one.seconds / r.seconds:,.2f}× faster; wide tables identical: "
                f"{result.one_piece_identical}"
            )
        if not args.no_spark:
            import pyarrow.parquet as pq

            duck = pq.read_table(r.path / "wide.parquet")
            s = build(
                wh,
                **when,
                catalogue=cat,
                engine="spark",
                force=True,
                quiet=True,
                skip_missing_models=True,
            )
            result.spark_seconds = s.seconds
            result.per_engine_rows["spark"] = s.rows
            spark = pq.read_table(s.path / "wide.parquet")
            result.identical = _same(duck, spark)
            print(
                f"spark build (local[2], same SQL via SQLGlot): {s.seconds:,.1f} s = "
                f"{s.seconds / r.seconds:,.1f}× DuckDB; wide tables identical: {result.identical}"
            )
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _footer(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Same columns and rows; doubles equal to 1e-9 relative."""
    from tagcloud.tags.compare import diff_tables

    return not diff_tables(a, b)


if __name__ == "__main__":
    main(sys.argv[1:])
