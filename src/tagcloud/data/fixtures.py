"""Valid rows for every model table, generated from the model itself, for tests and benchmarks.

Not the simulator (``tagcloud.sim`` models behaviour and ground truth); this only makes values that
pass every ingestion check, fast and on columns, in the simulator's export layout::

    DIR/<table>/<table>.parquet             reference and snapshot tables
    DIR/<table>/<table>_YYYYMM.parquet      month tables
    DIR/<table>/<table>_YYYYMMDD.parquet    day tables (one file per day)
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tagcloud.data.codes import code_values
from tagcloud.data.model import ANY_NUMBER, IMEI, MOBILE_NUMBER, TABLES, TAC, Column, Partitioning, Table

REFERENCE_ROWS = {"regions": 40, "townships": 20, "cells": 300, "products": 30, "handsets": 50}


def _ints(rng: Any, lo: int, hi: int, n: int) -> Any:
    return rng.integers(lo, hi, n, dtype="int64")


def _column(c: Column, t: Table, n: int, rng: Any, ctx: dict[str, Any], day: date, offset: int) -> Any:
    """One valid Arrow array of ``n`` values for column ``c``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from tagcloud.data.model import arrow_schema

    atype = arrow_schema(t).field(c.name).type
    typ = c.type.upper()
    subs = ctx["msisdn"]
    if c.name in t.key and typ == "BIGINT":
        return pa.array(np.arange(offset, offset + n, dtype=np.int64))
    if c.references:
        rt, rc = c.references.split(".")
        keys = ctx[f"{rt}.{rc}"]
        return pa.array(np.asarray(keys, dtype=object)[rng.integers(0, len(keys), n)], pa.string())
    if c.name == "msisdn":
        # tables keyed by msisdn (with a date) get each subscriber once; others any subscriber
        idx = np.arange(n) % len(subs) if "msisdn" in t.key else rng.integers(0, len(subs), n)
        return pa.array(np.asarray(subs)[idx], pa.string())
    if c.pattern in (MOBILE_NUMBER, ANY_NUMBER):
        return pc.cast(pa.array(_ints(rng, 13_000_000_000, 19_999_999_999, n)), pa.string())
    if c.pattern == IMEI:
        return pc.cast(pa.array(_ints(rng, 10**14, 10**15 - 1, n)), pa.string())
    if c.pattern == TAC:
        if c.name in t.key:
            return pc.cast(pa.array(np.arange(10_000_000 + offset, 10_000_000 + offset + n)), pa.string())
        return pc.cast(pa.array(_ints(rng, 10**7, 10**8 - 1, n)), pa.string())
    if c.codes:
        vals = np.asarray(code_values(c.codes), dtype=object)
        return pa.array(vals[rng.integers(0, len(vals), n)], pa.string())
    if c.name == "server_ip":
        parts = [pc.cast(pa.array(_ints(rng, 1, 255, n)), pa.string()) for _ in range(4)]
        return pc.binary_join_element_wise(*parts, ".")
    if c.name == "visited_country":
        return pa.array(np.asarray(["CN", "HK", "MO", "TW", "US"], dtype=object)[rng.integers(0, 5, n)])
    if c.name == "prefix":
        return pc.cast(pa.array(np.arange(130 + offset, 130 + offset + n)), pa.string())
    if c.pattern and c.pattern != "month_start":
        ids = np.arange(100_000 + offset, 100_000 + offset + n)
        return pc.binary_join_element_wise(pa.array(["C"] * n), pc.cast(pa.array(ids), pa.string()), "")
    if typ == "VARCHAR":
        if c.name in t.key:
            return pc.binary_join_element_wise(
                pa.array([c.name[:2].upper()] * n),
                pc.cast(pa.array(np.arange(offset, offset + n)), pa.string()),
                "",
            )
        if not c.nullable:
            return pa.array(np.asarray(["名称甲", "名称乙", "Name C"], dtype=object)[rng.integers(0, 3, n)])
        return pa.nulls(n, pa.string())
    if typ == "BOOLEAN":
        return pa.array(rng.integers(0, 2, n).astype(bool))
    if typ in ("DATE", "TIMESTAMP"):
        if c.pattern == "month_start":
            return pa.array([day.replace(day=1)] * n, pa.date32())
        if c.name == t.time_column or typ == "TIMESTAMP":
            base = np.datetime64(day, "us")
            secs = rng.integers(0, 86_400 * 1_000_000, n).astype("timedelta64[us]")
            arr = pa.array(base + secs)
            return pc.cast(arr, pa.date32()) if typ == "DATE" else arr
        if c.name in t.key:  # the calendar: one row per day
            return pa.array(np.datetime64("2024-01-01") + np.arange(offset, offset + n), pa.date32())
        return pa.array(np.datetime64("2015-01-01") + rng.integers(0, 3000, n), pa.date32())
    lo = 0 if c.min is None else c.min
    hi = (lo + 1000) if c.max is None else min(c.max, lo + 100_000)
    vals = rng.uniform(lo, hi, n)
    if typ.startswith("DECIMAL"):
        return pc.cast(pa.array(np.round(vals, 2)), atype)
    if typ == "DOUBLE":
        return pa.array(vals)
    return pa.array(vals.astype(np.int64)).cast(atype)


def table_rows(name: str, n: int, ctx: dict[str, Any], day: date, seed: int = 0, offset: int = 0) -> Any:
    """An Arrow table of ``n`` valid rows of ``name`` (events placed on ``day``)."""
    import numpy as np
    import pyarrow as pa

    from tagcloud.data.model import arrow_schema

    t = TABLES[name]
    rng = np.random.default_rng(seed)
    cols = {c.name: _column(c, t, n, rng, ctx, day, offset) for c in t.columns}
    return pa.table(cols).cast(arrow_schema(t))


def build_export(
    out: Path,
    subscribers: int = 500,
    days: int = 3,
    rows_per_day: int = 2000,
    start: date = date(2026, 10, 1),
    tables: tuple[str, ...] | None = None,
    seed: int = 1,
) -> dict[str, int]:
    """Write a valid export in the simulator's layout; returns rows written per table."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ctx: dict[str, Any] = {
        "msisdn": [
            str(x) for x in rng.choice(np.arange(13_800_000_000, 13_899_999_999), subscribers, replace=False)
        ]
    }
    counts: dict[str, int] = {}
    wanted = tables or tuple(TABLES)

    def write(name: str, tbl: pa.Table, suffix: str = "") -> None:
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(tbl, d / f"{name}{suffix}.parquet")
        counts[name] = counts.get(name, 0) + tbl.num_rows

    # reference tables: regions first; their keys feed the foreign keys of the rest
    ctx["regions.region_id"] = [f"R{i:03d}" for i in range(REFERENCE_ROWS["regions"])]
    for name in ("regions", "townships", "cells", "products", "handsets", "competitor_ranges", "calendar"):
        n = {"competitor_ranges": 60, "calendar": 366}.get(name, REFERENCE_ROWS.get(name, 10))
        tbl = table_rows(name, n, ctx, start, seed=seed + len(counts))
        if name == "regions":
            tbl = tbl.set_column(0, "region_id", pa.array(ctx["regions.region_id"]))
        if name == "townships":
            tbl = tbl.set_column(0, "township_id", pa.array(ctx["regions.region_id"][:n]))
        t = TABLES[name]
        ctx[f"{name}.{t.key[0]}"] = tbl.column(t.key[0]).to_pylist()
        if name in wanted:
            write(name, tbl)
    # snapshot: every subscriber once
    if "subscribers" in wanted:
        tbl = table_rows("subscribers", subscribers, ctx, start + timedelta(days=days - 1), seed=seed + 100)
        write("subscribers", tbl)
    offset = 1
    for name in wanted:
        t = TABLES[name]
        if t.partition is Partitioning.NONE:
            continue
        if t.partition is Partitioning.MONTH:
            n = subscribers if "msisdn" in t.key else rows_per_day
            tbl = table_rows(name, n, ctx, start, seed=seed + offset, offset=offset)
            write(name, tbl, f"_{start:%Y%m}")
            offset += n
            continue
        for d in range(days):
            day = start + timedelta(days=d)
            n = subscribers if "msisdn" in t.key else rows_per_day
            tbl = table_rows(name, n, ctx, day, seed=seed + offset, offset=offset)
            write(name, tbl, f"_{day:%Y%m%d}")
            offset += n
    return counts


def to_csv(parquet: Path, out: Path, delimiter: str = ",", encoding: str = "utf-8") -> int:
    """Rewrite one Parquet file as delimited text with a header (empty field = NULL); returns rows."""
    import duckdb

    con = duckdb.connect()
    tbl = con.sql(f"SELECT * FROM read_parquet('{parquet}')").to_arrow_table()
    lines = _text_lines(tbl, delimiter)
    out.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return tbl.num_rows


def _text_lines(tbl: Any, delimiter: str) -> list[str]:
    """Header + one text line per row, values as DuckDB casts them to VARCHAR."""
    import duckdb

    con = duckdb.connect()
    con.register("t", tbl)
    cols = tbl.column_names
    expr = " || ".join(
        f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" + (f" || '{delimiter}'" if i < len(cols) - 1 else "")
        for i, c in enumerate(cols)
    )
    rows = [r[0] for r in con.execute(f"SELECT {expr} FROM t").fetchall()]
    return [delimiter.join(cols), *rows]
