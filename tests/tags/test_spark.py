"""The same catalogue on Spark (local mode): the wide table must equal DuckDB's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tagcloud.tags.catalogue import Catalogue

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_spark_and_duckdb_build_identical_wide_tables(built, catalogue: Catalogue, tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import pyarrow.parquet as pq

    from tagcloud.tags.build import build
    from tagcloud.tags.compare import diff_tables

    src, duck = built
    wh = tmp_path / "wh"
    shutil.copytree(src, wh, symlinks=True)
    spark = build(
        wh, period="2026-10", catalogue=catalogue, engine="spark", quiet=True, skip_missing_models=True
    )
    assert spark.engine == "spark" and len(spark.sources_built) == len(catalogue.sources)
    a = pq.read_table(duck.path / "wide.parquet")
    b = pq.read_table(spark.path / "wide.parquet")
    assert a.num_columns > 900 and a.num_rows == b.num_rows
    assert diff_tables(a, b) == []
    # and the comparison can fail: one changed value is found
    import pyarrow as pa

    calls = b.column("calls").to_pylist()
    calls[0] = (calls[0] or 0) + 1
    changed = b.set_column(b.column_names.index("calls"), "calls", pa.array(calls, pa.int64()))
    assert diff_tables(a, changed) == ["calls: 1 rows differ"]


def test_spark_sql_is_transpiled_with_engine_rewrites() -> None:
    from tagcloud.tags.engines.spark import SparkEngine

    eng = SparkEngine.__new__(SparkEngine)  # no session needed to translate
    sql = eng.sql(
        "SELECT msisdn, count(DISTINCT CASE WHEN a THEN d END) AS x, date_diff('day', a, b) FROM t GROUP BY msisdn"
    )
    assert "SIZE(COLLECT_SET(CASE WHEN a THEN d END)) AS x" in sql
    assert "COUNT(DISTINCT" not in sql
