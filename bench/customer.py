"""Customer 360's recent-behaviour summary: one number over a warehouse of day partitions.

    uv run python bench/customer.py            # 20,000 subscribers × 60 days stored, 30-day window
    uv run python bench/customer.py --quick    # 2,000 × 10 days, a few seconds (run by the test suite)

Library: ``tagcloud.data.customer.recent_behaviour`` (every section: calls, SMS, data by day, roaming,
products, service contacts, top apps). Baseline, measured in the same run: the data-by-day section
alone through ``Warehouse.connect()``'s views (a glob over every partition, the window as a filter
on the hive ``day`` column). Ratio > 1 means the whole summary costs more than that one query.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    subscribers: int
    days: int
    xdr_rows: int
    lookups: int
    library_p50_ms: float
    library_p95_ms: float
    baseline_p50_ms: float
    sections_found: int  # lookups whose summary had calls and data (the generator's numbers do)

    @property
    def ratio(self) -> float:
        return self.library_p50_ms / self.baseline_p50_ms if self.baseline_p50_ms else float("inf")


def make_warehouse(root: Path, subscribers: int, days: int, xdr_per_day: int, seed: int = 7) -> int:
    """Random event tables in day partitions (numbers 1380000xxxx); returns the xDR rows written."""
    import duckdb

    from tagcloud.data.warehouse import Warehouse

    wh = Warehouse(root)
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed / 100})")
    end = dt.date(2026, 10, 31)
    num = f"CAST(13800000000 + CAST(floor(random() * {subscribers}) AS BIGINT) AS VARCHAR)"
    xdr = 0
    for k in range(days):
        day = end - dt.timedelta(days=days - 1 - k)
        ts = f"TIMESTAMP '{day} 00:00' + INTERVAL (CAST(floor(random() * 86400) AS INTEGER)) SECOND"
        tables = {
            "voice_cdr": f"SELECT {num} AS msisdn, {num} AS peer_number, "
            "['CMCC', 'CU', 'CT'][1 + CAST(floor(random() * 3) AS INTEGER)] AS peer_operator, "
            "CASE WHEN random() < 0.5 THEN 'MO' ELSE 'MT' END AS direction, "
            f"CAST(floor(random() * 600) AS INTEGER) AS duration_s FROM range({subscribers * 3})",
            "sms": f"SELECT {num} AS msisdn, 'MO' AS direction, 'CMCC' AS peer_operator FROM range({subscribers})",
            "data_xdr": f"SELECT {num} AS msisdn, {ts} AS start_time, CAST(floor(random() * 1e5) AS BIGINT) AS "
            f"bytes_up, CAST(floor(random() * 1e6) AS BIGINT) AS bytes_down FROM range({subscribers * xdr_per_day})",
        }
        for table, sql in tables.items():
            d = wh.partition_dir(table, day.isoformat())
            d.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY ({sql}) TO '{d / (table + '.parquet')}' (FORMAT parquet)")
        xdr += subscribers * xdr_per_day
    return xdr


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2,000 subscribers × 10 days")
    p.add_argument("--lookups", type=int, default=None, help="numbers looked up (default 30, quick 10)")
    a = p.parse_args(argv)
    from tagcloud.data.customer import recent_behaviour
    from tagcloud.data.warehouse import Warehouse

    subs, days, per_day = (2_000, 10, 10) if a.quick else (20_000, 60, 20)
    lookups = a.lookups or (10 if a.quick else 30)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "wh"
        xdr = make_warehouse(root, subs, days, per_day)
        numbers = [str(13800000000 + (i * 7919) % subs) for i in range(lookups)]
        recent_behaviour(root, numbers[0])  # warms the imports
        lib: list[float] = []
        found = 0
        for n in numbers:
            t = time.perf_counter()
            s = recent_behaviour(root, n)
            lib.append(time.perf_counter() - t)
            found += bool(s.calls.get("count") and s.data_by_day)
        lib.sort()
        con = Warehouse(root).connect()
        since = s.since.isoformat() if s.since else "0000"
        base: list[float] = []
        for n in numbers:
            t = time.perf_counter()
            con.execute(
                "SELECT CAST(start_time AS DATE), sum(bytes_up + bytes_down), count(*) FROM data_xdr "
                "WHERE msisdn = ? AND day >= ? GROUP BY 1 ORDER BY 1",
                [n, since],
            ).fetchall()
            base.append(time.perf_counter() - t)
        con.close()
    r = Result(
        subscribers=subs,
        days=days,
        xdr_rows=xdr,
        lookups=lookups,
        library_p50_ms=1000 * statistics.median(lib),
        library_p95_ms=1000 * lib[max(0, int(0.95 * len(lib)) - 1)],
        baseline_p50_ms=1000 * statistics.median(base),
        sections_found=found,
    )
    print(
        f"{subs:,} subscribers × {days} days stored ({xdr:,} xDR rows), 30-day window, {lookups} numbers\n"
        f"recent_behaviour (all sections): p50 {r.library_p50_ms:.0f} ms, p95 {r.library_p95_ms:.0f} ms\n"
        f"baseline (data by day only, through the warehouse views): p50 {r.baseline_p50_ms:.0f} ms\n"
        f"ratio library / baseline: {r.ratio:.2f}"
    )
    return r


if __name__ == "__main__":
    main()
