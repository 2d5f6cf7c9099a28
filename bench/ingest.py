"""Benchmark: ingestion (validation + partitioned write + ledger) against a plain DuckDB copy.

For each table: rows/s of ``tagcloud ingest`` and of the baseline ``COPY (SELECT * FROM
read_parquet(files)) TO …`` over the same files, measured in the same run; the ratio is the cost of
validation. ``--quick`` runs a small export (used by tests/bench/test_bench_quick.py).

    uv run python bench/ingest.py --quick
    uv run python bench/ingest.py --subscribers 100000 --days 30 --rows-per-day 300000
    uv run python bench/ingest.py --source DIR        # an existing export (e.g. the simulator's)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Result:
    rows: int
    seconds: float
    baseline_seconds: float
    accepted: int
    quarantined: int
    per_table: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else float("inf")


def _baseline(src: Path, out: Path, table: str, files: list[Path], threads: int) -> float:
    """Seconds for DuckDB to copy the table's files to one Parquet file, no checks."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    lst = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    reader = (
        f"read_parquet({lst})"
        if files[0].suffix == ".parquet"
        else f"read_csv({lst}, header = true, all_varchar = true)"
    )
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM {reader}) TO '{out / table}.parquet' (FORMAT parquet, COMPRESSION snappy)"
    )
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> Result:
    import os

    from tagcloud.data.fixtures import build_export
    from tagcloud.data.ingest import IngestOptions, discover, ingest
    from tagcloud.data.warehouse import Warehouse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small export, seconds")
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--rows-per-day", type=int, default=60_000, help="rows per day of each event table")
    ap.add_argument("--source", type=Path, help="bench this export instead of generating one")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workdir", type=Path, help="where to put data (default: a temporary folder)")
    a = ap.parse_args(argv)
    if a.quick:
        a.subscribers, a.days, a.rows_per_day = 300, 2, 2_000

    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        src = a.source
        if src is None:
            src = work / "export"
            t0 = time.perf_counter()
            build_export(src, subscribers=a.subscribers, days=a.days, rows_per_day=a.rows_per_day)
            print(f"generated {src} in {time.perf_counter() - t0:.1f} s")
        files, _ = discover(src)
        by_table: dict[str, list[Path]] = {}
        for f in files:
            by_table.setdefault(f.table, []).append(f.path)
        base = {t: _baseline(src, work / "baseline", t, fs, a.threads) for t, fs in by_table.items()}

        wh = Warehouse(work / "wh")
        t0 = time.perf_counter()
        report = ingest(src, wh, IngestOptions(threads=a.threads, quiet=True))
        total = time.perf_counter() - t0

        res = Result(report.read, total, sum(base.values()), report.accepted, report.quarantined)
        print(f"{'table':<20} {'rows':>12} {'ingest rows/s':>14} {'copy rows/s':>14} {'ratio':>7}")
        for t, row in report.by_table().items():
            secs = sum(f.seconds for f in report.files if f.table == t)
            b = base[t]
            res.per_table[t] = {"rows": row["read"], "seconds": secs, "baseline_seconds": b}
            print(
                f"{t:<20} {row['read']:>12,} {row['read'] / secs if secs else 0:>14,.0f} "
                f"{row['read'] / b if b else 0:>14,.0f} {secs / b if b else 0:>7.2f}"
            )
        print(
            f"{'total':<20} {res.rows:>12,} {res.rows / total:>14,.0f} {res.rows / res.baseline_seconds:>14,.0f} "
            f"{res.ratio:>7.2f}   (ingest {total:.1f} s incl. ledger and catalogue; copy {res.baseline_seconds:.1f} s)"
        )
        return res
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
