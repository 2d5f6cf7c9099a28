"""Benchmark: the tag build on a warehouse clustered by subscriber vs the same rows in arrival order.

Ingest writes event and fact files sorted by msisdn (``Table.cluster_by``). This measures what that
buys: the same province is copied with its event files in arrival order (by time, as switches and
probes write them), both copies' xDR is translated, then every source of the catalogue is built on
each (``force``: nothing cached) and the wide tables are compared. Prints per-source seconds side by
side and the ratio.

    uv run python bench/cluster.py --subscribers 100000 --days 30
    uv run python bench/cluster.py --warehouse /path/to/clustered/wh --period 2026-10
    uv run python bench/cluster.py --quick                               # run by tests/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ARRIVAL_TABLES = ("voice_cdr", "sms", "data_xdr")  # the large ones; the rest stays as ingested


@dataclass
class Result:
    subscribers: int
    rows: int  # rows of the re-ordered tables
    clustered_seconds: float
    arrival_seconds: float
    identical: bool
    sources: dict[str, tuple[float, float]]  # source → (clustered s, arrival s)

    @property
    def speedup(self) -> float:
        return self.arrival_seconds / self.clustered_seconds if self.clustered_seconds else 0.0


def arrival_copy(src: Path, dst: Path) -> int:
    """Copy a warehouse with the files of ARRIVAL_TABLES rewritten in time order; rows written."""
    import duckdb

    from tagcloud.data.model import TABLES
    from tagcloud.data.warehouse import Warehouse

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("wide", "parts", "translated", "runs.sqlite"))
    wh = Warehouse(dst)
    con = duckdb.connect()
    rows = 0
    for t in ARRIVAL_TABLES:
        order = f'"{TABLES[t].time_column}", record_id'
        for f in wh.table_files(t):
            tmp = f.with_name(f.name + ".tmp")
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{f}') ORDER BY {order}) TO '{tmp}' (FORMAT parquet)"
            )
            tmp.replace(f)
            (n,) = con.execute(f"SELECT count(*) FROM read_parquet('{f}')").fetchone() or (0,)
            rows += int(n)
    con.close()
    return rows


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subscribers", type=int, default=100_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--warehouse", type=Path, help="reuse this (clustered) warehouse")
    p.add_argument("--period", default="2026-10")
    p.add_argument("--quick", action="store_true", help="300 subscribers × 4 days")
    args = p.parse_args(argv)
    if args.quick:
        args.subscribers, args.days = 300, 4

    import pyarrow.parquet as pq

    from tagcloud.data.warehouse import Warehouse
    from tagcloud.sim.simulate import simulated_warehouse
    from tagcloud.tags.build import build, month_window, translated_days
    from tagcloud.tags.catalogue import load_catalogue
    from tagcloud.tags.compare import diff_tables

    tmp = Path(tempfile.mkdtemp(prefix="bench_cluster_"))
    try:
        if args.warehouse:
            clustered = args.warehouse
        else:
            start = dt.date.fromisoformat(args.period + "-01")
            clustered = simulated_warehouse(tmp / "clustered", args.subscribers, args.days, start=start)
        arrival = tmp / "arrival"
        rows = arrival_copy(clustered, arrival)
        cat = load_catalogue()
        window = month_window(args.period)
        runs = {}
        # clustered first: any warm-up the first build pays counts against the clustered layout
        for name, wh in (("clustered", clustered), ("arrival", arrival)):
            translated_days(Warehouse(wh), window)  # the DWD step, kept out of the comparison
            t0 = time.perf_counter()
            r = build(
                wh,
                period=args.period,
                catalogue=cat,
                force=True,
                force_translate=False,
                quiet=True,
                skip_missing_models=True,
            )
            runs[name] = (time.perf_counter() - t0, r)
        (c_s, c), (a_s, a) = runs["clustered"], runs["arrival"]
        per_c = {col.source: col.seconds for col in c.columns if col.kind == "attribute"}
        per_a = {col.source: col.seconds for col in a.columns if col.kind == "attribute"}
        identical = not diff_tables(
            pq.read_table(c.path / "wide.parquet"), pq.read_table(a.path / "wide.parquet")
        )
        result = Result(
            c.rows,
            rows,
            c_s,
            a_s,
            identical,
            {s: (per_c[s], per_a.get(s, 0.0)) for s in per_c if s != "derived"},
        )
        print(
            f"{c.rows:,} subscribers; {rows:,} rows of {', '.join(ARRIVAL_TABLES)} in arrival order in the copy"
        )
        print(f"{'source':26s} {'clustered':>10s} {'arrival':>10s} {'ratio':>6s}")
        for s, (cs, as_) in sorted(result.sources.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"{s:26s} {cs:9.2f}s {as_:9.2f}s {as_ / cs if cs else 0:5.1f}×")
        print(
            f"whole build: clustered {c_s:,.1f} s, arrival order {a_s:,.1f} s = {result.speedup:,.2f}× faster "
            f"clustered; wide tables identical: {identical}"
        )
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
