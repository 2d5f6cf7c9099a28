"""Hot-area benchmark (issue 16): a hot area's member list + profile vs an audience's of the same size.

    uv run python bench/hotareas.py            # 1M subscribers, 2,000 cells (cached in var/bench/)
    uv run python bench/hotareas.py --quick    # 200k subscribers, 500 cells (run by the test suite)

The issue's target: a hot area's list and profile (up to 100k subscribers) as fast as an audience
count + profile. Side by side in one run, on one index: (a) the hot area — ``home_cell IN (...) OR
work_cell IN (...)`` built by ``regions.hotareas.membership_condition`` — members, first page,
profile; (b) a plain audience of about the same size (a flag tag) — count, profile; (c) DuckDB
scanning the wide table's Parquet for the same hot area (count + one GROUP BY per profile column).
Ratios are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROFILE = ["brand", "age_band", "is_student"]


@dataclass
class Result:
    rows: int
    cells: int
    area_cells: int = 0
    area_members: int = 0
    audience_members: int = 0
    hot_area_ms: float = 0.0  # members + first page + profile
    audience_ms: float = 0.0  # count + profile of the flag audience
    duckdb_ms: float = 0.0  # the hot area's count + profile scanned from Parquet
    counts_agree: bool = False

    @property
    def ratio_vs_audience(self) -> float:
        return self.hot_area_ms / self.audience_ms if self.audience_ms else 0.0


def _prepare(cache: Path, rows: int, cells: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagcloud.audience.indexer import build_index

    wh = cache / f"hotareas-{rows}-{cells}"
    if (wh / "index" / "CURRENT").exists():
        return wh
    rng = np.random.default_rng(16)
    out = wh / "wide" / "current"
    out.mkdir(parents=True, exist_ok=True)
    towns = np.array(
        [f"C{c:02d}K{k:02d}T{t:02d}" for c in range(1, 6) for k in range(1, 5) for t in range(1, 7)]
    )
    ids = np.array([f"CELL-{i:05d}" for i in range(cells)])
    # cells are popular unevenly (a few campuses and compounds hold many subscribers)
    weight = rng.pareto(1.5, cells) + 0.1
    weight /= weight.sum()
    home = rng.choice(cells, rows, p=weight)
    work = np.where(rng.random(rows) < 0.6, rng.choice(cells, rows, p=weight), home)
    town = towns[home % len(towns)]
    numbers = 13_000_000_000 + np.arange(rows, dtype=np.int64) * 7
    tbl = pa.table(
        {
            "msisdn": pa.array(numbers.astype(str)),
            "city_id": pa.array([t[:3] for t in town]),
            "county_id": pa.array([t[:6] for t in town]),
            "township_id": pa.array(town),
            "brand": pa.array(np.array(["gotone", "mzone", "easyown"])[rng.integers(0, 3, rows)]),
            "age_band": pa.array(
                np.array(["18-24", "25-34", "35-44", "45-54", "55+"])[rng.integers(0, 5, rows)]
            ),
            "home_cell": pa.array(ids[home]),
            "work_cell": pa.array(ids[work]),
            "is_student": pa.array(rng.random(rows) < 0.05),
            "tag_a": pa.array(rng.random(rows) < 0.08),
        }
    )
    pq.write_table(tbl, out / "wide.parquet")

    def col(n: str, k: str) -> dict[str, Any]:
        return {"name": n, "kind": k, "label_zh": n, "label_en": n, "category": "bench", "values": None}

    meta = {
        "build_id": f"hotareas-{rows}-{cells}",
        "built_at": "2026-12-01T00:00:00+00:00",
        "period": "2026-11",
        "columns": [
            col("brand", "enum"),
            col("age_band", "enum"),
            col("home_cell", "enum"),
            col("work_cell", "enum"),
            col("is_student", "flag"),
            col("tag_a", "flag"),
        ],
    }
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    build_index(wh)
    return wh


def _best(fn: Any, reps: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, (time.perf_counter() - t) * 1000)
    return best, out


def main(argv: list[str] | None = None) -> Result:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cells", type=int, default=2_000)
    ap.add_argument("--target", type=int, default=100_000, help="members the hot area should hold (about)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=Path("var/bench"))
    a = ap.parse_args(argv)
    if a.quick:
        a.rows, a.cells, a.target, a.reps = 200_000, 500, 20_000, 3
    import duckdb

    from tagcloud.audience.query import AudienceEngine
    from tagcloud.regions.hotareas import Basis, membership_condition

    wh = _prepare(a.cache, a.rows, a.cells)
    eng = AudienceEngine.open(wh)
    counts = eng.index.columns["home_cell"]["counts"]
    # the area: cells in id order until about `target` subscribers live there
    area, total = [], 0
    for cell in sorted(counts):
        if total >= a.target * 0.6:
            break
        area.append(cell)
        total += counts[cell]
    cond = membership_condition(area, Basis.EITHER, eng.index.columns)
    r = Result(a.rows, a.cells, len(area))

    def hot() -> int:
        m = eng.members(cond)
        eng.list_members(m, limit=50, columns=("brand",))
        eng.profile(m, PROFILE)
        return len(m)

    def audience() -> int:
        n = eng.count("tag_a")
        eng.profile("tag_a", PROFILE)
        return n

    wide = str(wh / "wide" / "current" / "wide.parquet")
    con = duckdb.connect()

    def scan() -> int:
        where = "home_cell IN (SELECT unnest($1::VARCHAR[])) OR work_cell IN (SELECT unnest($1::VARCHAR[]))"
        n = con.execute(f"SELECT count(*) FROM read_parquet('{wide}') WHERE {where}", [area]).fetchall()[0][0]
        for c in PROFILE:
            con.execute(
                f"SELECT {c}, count(*) FROM read_parquet('{wide}') WHERE {where} GROUP BY ALL", [area]
            ).fetchall()
        return int(n)

    hot()  # warm the shards once, as a running web process has them
    r.hot_area_ms, r.area_members = _best(hot, a.reps)
    r.audience_ms, r.audience_members = _best(audience, a.reps)
    r.duckdb_ms, duck_n = _best(scan, a.reps)
    r.counts_agree = duck_n == r.area_members
    print(
        f"{a.rows:,} subscribers, {a.cells:,} cells; hot area of {len(area)} cells = {r.area_members:,} members"
    )
    print(f"  hot area  members + page + profile: {r.hot_area_ms:8.1f} ms")
    print(
        f"  audience  count + profile ({r.audience_members:,}): {r.audience_ms:8.1f} ms   ratio hot/audience {r.ratio_vs_audience:.2f}"
    )
    print(
        f"  DuckDB    scan count + profile:     {r.duckdb_ms:8.1f} ms   ratio DuckDB/hot {r.duckdb_ms / r.hot_area_ms:.1f}"
    )
    print(f"  counts agree with DuckDB: {r.counts_agree}")
    return r


if __name__ == "__main__":
    main()
