"""Benchmark: regional KPIs and alert-rule evaluation, each against a plain DuckDB baseline.

1. **Daily KPIs** for every region level (province → city → county → township → cell) and channel:
   a simulated province with the market flow is ingested, then one day is computed as the product
   does it (events, then every KPI in one GROUPING SETS pass) and as the baseline does it (the same
   events, one GROUP BY per KPI × level × with/without channel). The two KPI tables must agree.
2. **Alert rules over 5,000 regions**: a KPI table of REGIONS places × 29 days is written in the
   store's layout, then five rules (absolute, change vs yesterday / last week / last month, robust
   z-score) are evaluated by ``regions.alerts.evaluate`` (one read per KPI, numpy per rule) and by
   the baseline (one DuckDB GROUP BY query per rule). The breaches must be the same.

    uv run python bench/regions.py --subscribers 100000 --days 9
    uv run python bench/regions.py --quick                  # run by tests/bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

START = dt.date(2026, 9, 15)


@dataclass
class Result:
    subscribers: int
    events: int
    kpi_rows: int
    kpi_seconds: float  # events + one GROUPING SETS pass
    events_seconds: float
    kpi_baseline_seconds: float  # the same events, one GROUP BY per KPI × level × channel split
    kpis_agree: bool
    regions: int
    rules: int
    breaches: int
    eval_seconds: float
    eval_baseline_seconds: float
    breaches_agree: bool

    @property
    def kpi_ratio(self) -> float:
        return self.kpi_baseline_seconds / self.kpi_seconds if self.kpi_seconds else 0.0

    @property
    def eval_ratio(self) -> float:
        return self.eval_baseline_seconds / self.eval_seconds if self.eval_seconds else 0.0


def _kpi_part(work: Path, subscribers: int, days: int) -> tuple[int, int, float, float, float, bool]:
    from tagcloud.data.ingest import IngestOptions, ingest
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.regions.kpi import KPIS, KpiStore, compute_day, events_sql
    from tagcloud.sim.simulate import simulate

    export, wh_dir = work / "export", work / "warehouse"
    simulate(export, subscribers, days, seed=11, quiet=True, market=True, start=START)
    ingest(export, wh_dir, IngestOptions(quiet=True, now=dt.datetime(2030, 1, 1)))
    wh = Warehouse(wh_dir)
    day = START + dt.timedelta(days=days - 1)
    store = KpiStore(work / "marts")
    t0 = time.perf_counter()
    run = compute_day(wh, day, store)
    kpi_s = time.perf_counter() - t0

    # baseline: the same events, then one GROUP BY per KPI × level × (all channels | per channel)
    con = wh.connect()
    t0 = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE events AS {events_sql(day)}")
    events_s = time.perf_counter() - t0
    province = con.execute("SELECT min(region_id) FROM regions WHERE level = 'province'").fetchone()
    pid = str(province[0]) if province else "P"
    levels = {
        "province": None,
        "city": "city_id",
        "county": "county_id",
        "township": "township_id",
        "cell": "cell_id",
    }
    t0 = time.perf_counter()
    base: dict[tuple[str, str, str, str], float | None] = {}
    for k in KPIS:
        num = k.numerator.sql()
        den = k.denominator.sql() if k.denominator else "NULL"
        for level, col in levels.items():
            for by_channel in (False, True) if k.by_channel else (False,):
                keys = [c for c in (col, "coalesce(channel, 'unknown')" if by_channel else None) if c]
                group = f"GROUP BY {', '.join(keys)}" if keys else ""
                where = f"WHERE {col} IS NOT NULL" if col else ""
                rid = col or f"'{pid}'"
                ch = "coalesce(channel, 'unknown')" if by_channel else "'*'"
                for r, c, n, d in con.execute(
                    f"SELECT {rid}, {ch}, {num}, {den} FROM events {where} {group}"
                ).fetchall():
                    v = n * k.scale if k.denominator is None else (n * k.scale / d if d else None)
                    base[(k.kpi_id, level, str(r), str(c))] = None if v is None else float(v)
    base_s = time.perf_counter() - t0 + events_s
    ours = {
        (kpi, lv, r, c): v
        for kpi, lv, r, c, v in store.connect()
        .execute("SELECT kpi, level, region_id, channel, value FROM kpi_daily WHERE day = ?", [day])
        .fetchall()
    }
    agree = ours.keys() == base.keys() and all(
        (ours[x] is None and base[x] is None)
        or (ours[x] is not None and base[x] is not None and abs(ours[x] - base[x]) < 1e-6)  # type: ignore[operator]
        for x in ours
    )
    if not agree:
        only = sorted(set(ours) ^ set(base))[:5]
        diff = [(x, ours[x], base[x]) for x in ours.keys() & base.keys() if ours[x] != base[x]][:5]
        print(f"  KPI rows only on one side: {len(set(ours) ^ set(base))} e.g. {only}; differing e.g. {diff}")
    return run.events, run.rows, kpi_s, events_s, base_s, agree


def _synthetic_store(root: Path, regions: int, days: int, seed: int) -> tuple[object, list[str], dt.date]:
    """A KPI table of ``regions`` townships × ``days`` days for one sum KPI (new_subscribers), with
    a few planted collapses on the last day, in the store's layout."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagcloud.regions.kpi import KpiStore

    rng = np.random.default_rng(seed)
    ids = [f"T{i:05d}" for i in range(regions)]
    lam = rng.uniform(5, 40, regions)
    last = START + dt.timedelta(days=days - 1)
    for d in range(days):
        v = rng.poisson(lam).astype(float)
        if d == days - 1:
            v[rng.choice(regions, regions // 100, replace=False)] = 0.0  # 1% collapse
        keep = v > 0  # a place with no event has no row, as in the real table
        out = root / "kpi_daily" / f"day={(START + dt.timedelta(days=d)).isoformat()}"
        out.mkdir(parents=True, exist_ok=True)
        n = int(keep.sum())
        pq.write_table(
            pa.table({
                "kpi": ["new_subscribers"] * n, "level": ["township"] * n,
                "region_id": [r for r, k in zip(ids, keep, strict=True) if k], "channel": ["*"] * n,
                "numerator": v[keep], "denominator": pa.nulls(n, pa.float64()), "value": v[keep],
            }),
            out / "kpi.parquet",
        )  # fmt: skip
    return KpiStore(root), ids, last


def _baseline_rule(con: object, rule: object, day: dt.date) -> set[str]:
    """One DuckDB GROUP BY query per rule over the KPI table: the same comparison in SQL."""
    from tagcloud.regions.alerts import BASELINE_DAYS, ThresholdKind

    r = rule  # a RuleSpec
    op, thr = r.operator, r.threshold  # type: ignore[attr-defined]
    d = day.isoformat()
    places = "SELECT unnest(?::VARCHAR[]) AS region_id"
    if r.kind == ThresholdKind.ABSOLUTE:  # type: ignore[attr-defined]
        sql = f"""SELECT p.region_id FROM ({places}) p LEFT JOIN kpi_daily k ON k.region_id = p.region_id
                  AND k.kpi = 'new_subscribers' AND k.day = DATE '{d}'
                  WHERE coalesce(k.value, 0) {op} {thr} AND coalesce(k.numerator, 0) >= {r.min_volume}"""  # type: ignore[attr-defined]
    elif r.kind in BASELINE_DAYS:  # type: ignore[attr-defined]
        b = (day - dt.timedelta(days=BASELINE_DAYS[r.kind])).isoformat()  # type: ignore[attr-defined]
        sql = f"""SELECT region_id FROM (
                    SELECT p.region_id, sum(CASE WHEN k.day = DATE '{d}' THEN k.value ELSE 0 END) AS v,
                           sum(CASE WHEN k.day = DATE '{b}' THEN k.value ELSE 0 END) AS base
                    FROM ({places}) p LEFT JOIN kpi_daily k ON k.region_id = p.region_id
                      AND k.kpi = 'new_subscribers' AND k.day IN (DATE '{d}', DATE '{b}')
                    GROUP BY p.region_id)
                  WHERE base <> 0 AND (v - base) / abs(base) * 100 {op} {thr} AND greatest(v, base) >= {r.min_volume}"""  # type: ignore[attr-defined]
    else:
        h0 = (day - dt.timedelta(days=r.history_days)).isoformat()  # type: ignore[attr-defined]
        sql = f"""WITH g AS (
                    SELECT p.region_id, dd.day, coalesce(k.value, 0) AS v
                    FROM ({places}) p CROSS JOIN (SELECT unnest(range(DATE '{h0}', DATE '{d}' + 1, INTERVAL 1 DAY))::DATE AS day) dd
                    LEFT JOIN kpi_daily k ON k.region_id = p.region_id AND k.day = dd.day AND k.kpi = 'new_subscribers'),
                  h AS (SELECT region_id, median(v) AS med FROM g WHERE day < DATE '{d}' GROUP BY region_id),
                  m AS (SELECT g.region_id, median(abs(v - med)) * 1.4826 AS mad, avg(abs(v - med)) * 1.2533 AS md
                        FROM g JOIN h USING (region_id) WHERE day < DATE '{d}' GROUP BY g.region_id)
                  SELECT g.region_id FROM g JOIN h USING (region_id) JOIN m USING (region_id)
                  WHERE g.day = DATE '{d}' AND greatest(g.v, h.med) >= {r.min_volume}
                    AND (g.v - h.med) / CASE WHEN mad > 0 THEN mad WHEN md > 0 THEN md ELSE 1 END {op} {thr}"""  # type: ignore[attr-defined]
    return {x for (x,) in con.execute(sql, [list(r.region_ids)]).fetchall()}  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subscribers", type=int, default=100_000)
    p.add_argument("--days", type=int, default=9, help="simulated days (the KPI day needs 7 before it)")
    p.add_argument("--regions", type=int, default=5_000)
    p.add_argument(
        "--copies", type=int, default=1, help="each of the 5 rules this many times (other thresholds)"
    )
    p.add_argument("--skip-kpis", action="store_true", help="only the rule evaluation")
    p.add_argument("--quick", action="store_true", help="3,000 subscribers, 9 days, 5,000 regions")
    a = p.parse_args(argv)
    if a.quick:
        a.subscribers, a.days = 3_000, 9
    from tagcloud.regions.alerts import RuleSpec, ThresholdKind, evaluate

    with tempfile.TemporaryDirectory(prefix="bench-regions-") as tmp:
        work = Path(tmp)
        events = rows = 0
        kpi_s = events_s = kpi_base_s = 0.0
        kpis_agree = True
        if not a.skip_kpis:
            events, rows, kpi_s, events_s, kpi_base_s, kpis_agree = _kpi_part(
                work / "kpi", a.subscribers, a.days
            )
            print(
                f"daily KPIs, {a.subscribers:,} subscribers: {events:,} events → {rows:,} KPI rows in {kpi_s:.2f} s "
                f"(events {events_s:.2f} s); baseline one GROUP BY per KPI × level: {kpi_base_s:.2f} s "
                f"({kpi_base_s / kpi_s:.2f}×); tables agree: {kpis_agree}"
            )
        store, ids, last = _synthetic_store(work / "synthetic", a.regions, 29, seed=5)
        rules = [
            r
            for i in range(a.copies)
            for r in (
                RuleSpec(
                    f"abs{i}",
                    "new_subscribers",
                    tuple(ids),
                    ThresholdKind.ABSOLUTE,
                    "<",
                    1.0 + i,
                    min_volume=0,
                ),
                RuleSpec(
                    f"day{i}",
                    "new_subscribers",
                    tuple(ids),
                    ThresholdKind.CHANGE_DAY,
                    "<=",
                    -90.0 + i,
                    min_volume=5,
                ),
                RuleSpec(
                    f"week{i}",
                    "new_subscribers",
                    tuple(ids),
                    ThresholdKind.CHANGE_WEEK,
                    "<=",
                    -90.0 + i,
                    min_volume=5,
                ),
                RuleSpec(
                    f"month{i}",
                    "new_subscribers",
                    tuple(ids),
                    ThresholdKind.CHANGE_MONTH,
                    "<=",
                    -90.0 + i,
                    min_volume=5,
                ),
                RuleSpec(
                    f"z{i}",
                    "new_subscribers",
                    tuple(ids),
                    ThresholdKind.ANOMALY,
                    "<=",
                    -3.0 + 0.1 * i,
                    min_volume=5,
                ),
            )
        ]
        t0 = time.perf_counter()
        breaches = evaluate(rules, store, last)  # type: ignore[arg-type]
        eval_s = time.perf_counter() - t0
        con = store.connect()  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        base = {r.rule_id: _baseline_rule(con, r, last) for r in rules}
        eval_base_s = time.perf_counter() - t0
        ours: dict[str, set[str]] = {r.rule_id: set() for r in rules}
        for b in breaches:
            ours[b.rule_id].add(b.region_id)
        agree = ours == base
        print(
            f"{len(rules)} rules × {a.regions:,} regions: {len(breaches):,} breaches in {eval_s:.2f} s; "
            f"baseline one DuckDB query per rule: {eval_base_s:.2f} s ({eval_base_s / eval_s:.2f}×); agree: {agree}"
        )
        if not agree:
            for r in rules:
                print(f"  {r.rule_id}: ours {len(ours[r.rule_id])} baseline {len(base[r.rule_id])}")
    return Result(
        a.subscribers, events, rows, kpi_s, events_s, kpi_base_s, kpis_agree, a.regions, len(rules), len(breaches),
        eval_s, eval_base_s, agree,
    )  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
