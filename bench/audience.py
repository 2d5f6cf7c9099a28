"""Audience engine benchmark (issue 4): bitmap engine vs DuckDB vs Polars vs chDB vs the numpy dense floor.

    uv run python bench/audience.py            # 10M subscribers × ~2,000 tags (cached in var/bench/)
    uv run python bench/audience.py --quick    # 200k × 200, a few seconds (run by the test suite)

Everything is measured side by side in one run on the same data: the wide table is written to
Parquet once (cached), the index is built from it, then each question is asked of the engine,
of DuckDB and Polars scanning the Parquet, of ClickHouse (chDB, in process) with its bitmap
functions over the same index exported to ClickHouse tables, and (for boolean counts) of numpy
ANDing the same bitmaps as dense words — the memory-bandwidth floor. Figures are printed with ratios, never asserted.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SHAPES = (
    "{a} AND ({b} OR {c}) AND NOT {d} AND {e}",
    "({a} OR {b}) AND NOT ({c} AND {d}) AND {e}",
    "{a} AND {b} AND NOT {c} AND ({d} OR {e})",
    "NOT ({a} OR {b}) AND {c} AND ({d} OR NOT {e})",
)


@dataclass
class Result:
    rows: int
    tags: int
    build_seconds: float = 0.0
    seconds_per_1000_tags: float = 0.0
    index_bytes_per_subscriber: float = 0.0
    count_p50_ms: float = 0.0
    count_p95_ms: float = 0.0
    duckdb_count_p50_ms: float = 0.0
    polars_count_p50_ms: float = 0.0
    floor_count_p50_ms: float = 0.0
    chdb_export_seconds: float = 0.0
    chdb_count_p50_ms: float = 0.0
    chdb_range_p50_ms: float = 0.0
    profile_members: int = 0
    profile_columns: int = 0
    profile_p50_ms: float = 0.0
    duckdb_profile_ms: float = 0.0
    range_count_p50_ms: float = 0.0
    range_members_p50_ms: float = 0.0
    duckdb_range_p50_ms: float = 0.0
    lookup_p50_ms: float = 0.0
    lookup_p99_ms: float = 0.0
    counts_agree: bool = True
    conditions: list[str] = field(default_factory=list)


def _timed(fn: Any, reps: int) -> tuple[list[float], Any]:
    out = None
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return times, out


def _p(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else 0.0


def _prepare(cache: Path, rows: int, flags: int, enums: int, numbers: int, rebuild: bool) -> Path:
    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.synth import WideSpec, write_wide

    wh = cache / f"audience-{rows}-{flags}"
    if not (wh / "wide" / "current" / "meta.json").exists():
        write_wide(wh, WideSpec(rows=rows, flags=flags, enums=enums, numbers=numbers, seed=2026))
    if rebuild or not (wh / "index" / "CURRENT").exists():
        build_index(wh)
    return wh


def _dense_eval(tree: Any, words: dict[str, np.ndarray], alive: np.ndarray) -> np.ndarray:
    """The same boolean expression on dense words (flags without nulls): the bandwidth floor."""
    import sqlglot.expressions as exp

    if isinstance(tree, exp.Paren):
        return _dense_eval(tree.this, words, alive)
    if isinstance(tree, exp.Column):
        return words[tree.name]
    if isinstance(tree, exp.Not):
        return np.bitwise_and(alive, np.invert(_dense_eval(tree.this, words, alive)))
    a, b = _dense_eval(tree.this, words, alive), _dense_eval(tree.expression, words, alive)
    return np.bitwise_and(a, b) if isinstance(tree, exp.And) else np.bitwise_or(a, b)


def main(argv: list[str] | None = None) -> Result:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200k subscribers × 200 tags")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--flags", type=int, default=2_000)
    ap.add_argument("--cache", type=Path, default=Path("var/bench"))
    ap.add_argument("--rebuild", action="store_true", help="build the index again even if cached")
    ap.add_argument("--conditions", type=int, default=12, help="5-tag audiences to time")
    ap.add_argument("--lookup-only", action="store_true", help="time only the reverse lookup")
    ap.add_argument("--no-chdb", action="store_true", help="leave ClickHouse (chDB) out")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.flags = 200_000, 200
    enums, numbers = (10, 10) if args.quick else (20, 30)

    import duckdb
    import polars as pl
    from pyroaring import BitMap

    from tagcloud.audience.query import AudienceEngine, parse
    from tagcloud.audience.roaring import bitmap_to_words

    wh = _prepare(args.cache, args.rows, args.flags, enums, numbers, args.rebuild)
    parquet = str(wh / "wide" / "current" / "wide.parquet")
    eng = AudienceEngine.open(wh, can_unmask=True)
    man = eng.index.manifest
    n = eng.index.subscribers
    tags = len(man["columns"])
    res = Result(rows=n, tags=tags)
    res.build_seconds = float(man["build_seconds"])
    res.seconds_per_1000_tags = res.build_seconds / tags * 1000
    res.index_bytes_per_subscriber = man["bytes"] / n

    rng = np.random.default_rng(4)
    if not args.lookup_only:
        # -- 5-tag boolean audiences over flags of mixed densities (≥ 0.5%, no nulls)
        flags = [
            (k, c["count"] / n) for k, c in man["columns"].items() if c["kind"] == "flag" and not c["nulls"]
        ]
        pool = [k for k, d in flags if d >= 0.005]
        conds = []
        for i in range(args.conditions):
            pick = rng.choice(pool, 5, replace=False)
            conds.append(SHAPES[i % len(SHAPES)].format(**dict(zip("abcde", pick, strict=True))))
        res.conditions = conds
        con = duckdb.connect()
        con.execute("SET threads = 2")
        con.execute("SET parquet_metadata_cache = true")  # fair to DuckDB: no footer re-parse per query
        lazy = pl.scan_parquet(parquet)
        names = eng.names()
        shard = eng.index.shards[0]
        alive = bitmap_to_words(shard.bitmap("_alive"), shard.lo, shard.n_words)
        chdb = None
        if not args.no_chdb:
            from tagcloud.audience.clickhouse import ChdbRunner, ClickHouseAudience, export_index

            t0 = time.perf_counter()
            runner = ChdbRunner()
            export_index(eng.index, runner, "bench")
            res.chdb_export_seconds = time.perf_counter() - t0
            chdb = ClickHouseAudience(eng, runner, "bench")
        eng_t, duck_t, pol_t, floor_t, ch_t = [], [], [], [], []
        for c in conds:
            eng.count(c)  # first use loads the bitmaps lazily; timed runs are warm, as in a service
            t, got = _timed(lambda c=c: eng.count(c), 15)
            eng_t += t
            sql = parse(c, names).to_sql("duckdb")
            t, ref = _timed(
                lambda sql=sql: con.execute(
                    f"SELECT count(*) FROM read_parquet('{parquet}') WHERE {sql}"
                ).fetchone()[0],
                3,
            )
            duck_t += t
            t, pol = _timed(
                lambda sql=sql: lazy.sql(f"SELECT count(*) AS n FROM self WHERE {sql}").collect().item(), 3
            )
            pol_t += t
            if chdb is not None:
                t, ch = _timed(lambda c=c: chdb.count(c), 3)
                ch_t += t
                res.counts_agree &= ch == got
            if len(eng.index.shards) == 1:
                tree = parse(c, names).tree
                words = {
                    k: bitmap_to_words(shard.bitmap(k), shard.lo, shard.n_words)
                    for k in parse(c, names).names
                }
                t, dense = _timed(
                    lambda tree=tree, words=words: int(
                        np.bitwise_count(_dense_eval(tree, words, alive)).sum()
                    ),
                    15,
                )
                floor_t += t
                res.counts_agree &= dense == got
            res.counts_agree &= got == ref == pol
        res.count_p50_ms, res.count_p95_ms = _p(eng_t, 50), _p(eng_t, 95)
        res.duckdb_count_p50_ms, res.polars_count_p50_ms = _p(duck_t, 50), _p(pol_t, 50)
        res.floor_count_p50_ms = _p(floor_t, 50)
        res.chdb_count_p50_ms = _p(ch_t, 50)

        # -- profile of 100 attributes/tags inside a ~1M-member (10%) audience
        cols = man["columns"]
        target = min((k for k, _ in flags), key=lambda k: abs(cols[k]["count"] - n / 10))
        audience = eng.members(target)
        res.profile_members = len(audience)
        chosen = [k for k, c in cols.items() if c["kind"] == "enum"][:12] + [
            k for k, c in cols.items() if c["kind"] == "number"
        ][:8]
        chosen += [k for k, c in cols.items() if c["kind"] == "flag" and k != target][: 100 - len(chosen)]
        res.profile_columns = len(chosen)
        eng.profile(audience, chosen)
        t, _ = _timed(lambda: eng.profile(audience, chosen), 5)
        res.profile_p50_ms = _p(t, 50)
        parts = []
        for k in chosen:
            kind = cols[k]["kind"]
            if kind == "flag":
                parts.append(f'count(*) FILTER (WHERE "{k}")')
            elif kind == "enum":
                parts += [f"count(*) FILTER (WHERE \"{k}\" = '{v}')" for v in cols[k]["counts"]]
            else:
                parts.append(f'count("{k}"), sum("{k}")')
        t, _ = _timed(
            lambda: con.execute(
                f"SELECT {', '.join(parts)} FROM read_parquet('{parquet}') WHERE \"{target}\""
            ).fetchall(),
            1,  # minutes at 10M: once is enough to see the order of magnitude
        )
        res.duckdb_profile_ms = _p(t, 50)

        # -- numeric range through the bit-sliced index
        rc = "arpu BETWEEN 50 AND 120"
        eng.count(rc)
        t, got = _timed(lambda: eng.count(rc), 15)
        res.range_count_p50_ms = _p(t, 50)
        t, bm = _timed(lambda: eng.members(rc), 10)
        res.range_members_p50_ms = _p(t, 50)
        t, ref = _timed(
            lambda: con.execute(
                f"SELECT count(*) FROM read_parquet('{parquet}') WHERE arpu BETWEEN 50 AND 120"
            ).fetchone()[0],
            3,
        )
        res.duckdb_range_p50_ms = _p(t, 50)
        res.counts_agree &= got == ref == len(bm)
        if chdb is not None:
            t, ch = _timed(lambda: chdb.count(rc), 3)
            res.chdb_range_p50_ms = _p(t, 50)
            res.counts_agree &= ch == got

    # -- reverse lookup, warm (a lookup service keeps every bitmap loaded)
    eng.warm()
    import gc

    gc.collect()
    gc.freeze()  # as a long-lived lookup service would: the warmed index is never garbage
    ids = rng.choice(n, 1000, replace=False)
    nums = [str(int(x)) for x in np.asarray(eng.index.dictionary.msisdn_by_id)[ids]]
    eng.lookup(nums[0])
    t = []
    for x in nums:
        t0 = time.perf_counter()
        eng.lookup(x)
        t.append((time.perf_counter() - t0) * 1000)
    gc.unfreeze()
    res.lookup_p50_ms, res.lookup_p99_ms = _p(t, 50), _p(t, 99)
    del BitMap
    _report(res)
    return res


def _report(r: Result) -> None:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:,.1f}×" if b else "n/a"

    print(f"\naudience benchmark: {r.rows:,} subscribers, {r.tags:,} indexed columns (2 cores shared)")
    print(
        f"  index build            {r.build_seconds:,.1f} s = {r.seconds_per_1000_tags:,.1f} s per 1,000 tags; "
        f"index {r.index_bytes_per_subscriber:,.0f} bytes per subscriber"
    )
    if r.count_p50_ms == 0 and r.profile_columns == 0:  # --lookup-only: only the lookup was timed
        print(
            f"  reverse lookup         p50 {r.lookup_p50_ms:.3f} ms, p99 {r.lookup_p99_ms:.3f} ms   target p99 ≤ 2 ms"
        )
        print(
            json.dumps(
                {k: v for k, v in r.__dict__.items() if k.startswith("lookup") or k in ("rows", "tags")}
            )
        )
        return
    print(f"  5-tag count p50        {r.count_p50_ms:8.2f} ms (p95 {r.count_p95_ms:.2f})   target ≤ 5 ms")
    print(
        f"    DuckDB scan p50      {r.duckdb_count_p50_ms:8.2f} ms   engine is {ratio(r.duckdb_count_p50_ms, r.count_p50_ms)} faster (target ≥ 50×)"
    )
    print(
        f"    Polars scan p50      {r.polars_count_p50_ms:8.2f} ms   engine is {ratio(r.polars_count_p50_ms, r.count_p50_ms)} faster"
    )
    if r.chdb_count_p50_ms:
        print(
            f"    chDB bitmaps p50     {r.chdb_count_p50_ms:8.2f} ms   engine is {ratio(r.chdb_count_p50_ms, r.count_p50_ms)} faster "
            f"(same index in ClickHouse tables, exported in {r.chdb_export_seconds:.1f} s)"
        )
    print(
        f"    numpy dense floor    {r.floor_count_p50_ms:8.2f} ms   engine / floor = {ratio(r.count_p50_ms, r.floor_count_p50_ms)}"
    )
    print(
        f"  profile {r.profile_columns} cols in {r.profile_members:,} members p50 {r.profile_p50_ms:8.2f} ms   target ≤ 300 ms; "
        f"DuckDB {r.duckdb_profile_ms:.1f} ms ({ratio(r.duckdb_profile_ms, r.profile_p50_ms)})"
    )
    print(
        f"  BSI range count p50    {r.range_count_p50_ms:8.2f} ms (members {r.range_members_p50_ms:.2f} ms)   target ≤ 20 ms; "
        f"DuckDB {r.duckdb_range_p50_ms:.1f} ms ({ratio(r.duckdb_range_p50_ms, r.range_count_p50_ms)})"
        + (
            f", chDB {r.chdb_range_p50_ms:.1f} ms ({ratio(r.chdb_range_p50_ms, r.range_count_p50_ms)})"
            if r.chdb_range_p50_ms
            else ""
        )
    )
    print(
        f"  reverse lookup         p50 {r.lookup_p50_ms:.3f} ms, p99 {r.lookup_p99_ms:.3f} ms   target p99 ≤ 2 ms"
    )
    print(f"  engine, DuckDB, Polars, chDB and the dense floor agree on every count: {r.counts_agree}")
    print(json.dumps({k: v for k, v in r.__dict__.items() if k != "conditions"}))


if __name__ == "__main__":
    main()
