"""Random wide tables (hypothesis) with every column type the tag build writes — BOOLEAN, VARCHAR,
DECIMAL, DOUBLE (arbitrary), negative BIGINT, DATE, NULLs anywhere — indexed and queried against DuckDB."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagcloud.audience.indexer import build_index
from tagcloud.audience.query import AudienceEngine, parse
from tests.audience.audience_strategies import conditions

META = [
    {"name": "f1", "kind": "flag"},
    {"name": "f2", "kind": "flag"},
    {"name": "e1", "kind": "enum", "values": ["a", "b", "c"]},
    {"name": "dec", "kind": "number"},
    {"name": "dbl", "kind": "number"},
    {"name": "neg", "kind": "number"},
    {"name": "opened", "kind": "date"},
]


@st.composite
def wide_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))

    def nulls(p: float) -> np.ndarray:
        return rng.random(n) < p

    p_null = draw(st.sampled_from([0.0, 0.1, 0.5]))
    numbers = 13_900_000_000 + rng.choice(10**8, n, replace=False)
    dec = [
        None if m else Decimal(int(x)) / 100
        for x, m in zip(rng.integers(-20000, 60000, n), nulls(p_null), strict=True)
    ]
    opened = [
        None if m else date(2019, 1, 1) + timedelta(days=int(x))
        for x, m in zip(rng.integers(0, 2900, n), nulls(p_null), strict=True)
    ]
    return pa.table(
        {
            "msisdn": pa.array([str(x) for x in numbers]),
            "city_id": pa.array(rng.choice(["C01", "C02"], n)),
            "county_id": pa.array(rng.choice(["C01K01", "C01K02", "C02K01"], n)),
            "township_id": pa.array(rng.choice(["T1", "T2", "T3", "T4"], n)),
            "f1": pa.array(rng.random(n) < 0.4, mask=nulls(p_null)),
            "f2": pa.array(rng.random(n) < 0.8, mask=nulls(p_null / 2)),
            "e1": pa.array(rng.choice(["a", "b", "c"], n), mask=nulls(p_null)),
            "dec": pa.array(dec, type=pa.decimal128(10, 2)),
            "dbl": pa.array(rng.normal(100, 80, n) * rng.choice([1, 1 / 3], n), mask=nulls(p_null)),
            "neg": pa.array(rng.integers(-300, 300, n), type=pa.int64(), mask=nulls(p_null)),
            "opened": pa.array(opened, type=pa.date32()),
        }
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=wide_tables(), data=st.data())
def test_random_tables_agree_with_duckdb(table: pa.Table, data: st.DataObject) -> None:
    wh = Path(tempfile.mkdtemp(prefix="aud_rand_"))
    try:
        (wh / "wide" / "current").mkdir(parents=True)
        pq.write_table(table, wh / "wide" / "current" / "wide.parquet")
        meta = {"build_id": "rand", "columns": META}
        (wh / "wide" / "current" / "meta.json").write_text(json.dumps(meta))
        build_index(wh, shard_size=65536, quiet=True)
        eng = AudienceEngine.open(wh, can_unmask=True)
        con = duckdb.connect()
        con.register("wide", table)
        for _ in range(8):
            cond = data.draw(conditions(meta, groups=()), label="condition")
            where = parse(cond, eng.names()).to_sql("duckdb")
            want = {r[0] for r in con.execute(f"SELECT msisdn FROM wide WHERE {where}").fetchall()}
            ids = np.frombuffer(eng.members(cond).to_array(), dtype=np.uint32)
            got = {str(int(x)) for x in eng.index.dictionary.msisdn_by_id[ids]}
            assert eng.count(cond) == len(want), cond
            assert got == want, cond
        prof = eng.profile(cond, ["dec", "dbl", "neg", "e1"])
        n, s_dec, s_dbl = con.execute(
            f"SELECT count(dec), sum(dec), sum(dbl) FROM wide WHERE {where}"
        ).fetchone()
        row = prof.filter(prof["column"] == "dec").row(0, named=True)
        assert row["members"] == n and abs(row["sum"] - float(s_dec or 0)) < 1e-6
        row = prof.filter(prof["column"] == "dbl").row(0, named=True)
        assert abs(row["sum"] - float(s_dbl or 0)) <= 1e-9 * max(1.0, abs(float(s_dbl or 0)))
    finally:
        shutil.rmtree(wh, ignore_errors=True)
