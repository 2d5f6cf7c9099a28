"""PySpark (local mode in tests, a cluster at scale): the same SQL, transpiled by SQLGlot."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from tagcloud.tags.engines.base import Engine

_SESSION: Any = None


def spark_session(master: str = "local[2]") -> Any:
    """One SparkSession per process (JVM start is the slow part), configured so Spark reads the
    warehouse the way DuckDB does: hive keys stay text, timestamps are local without zone."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
    _SESSION = (
        SparkSession.builder.master(master)
        .appName("tagcloud-build")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.ansi.enabled", "false")  # DuckDB-like: x / 0 is NULL, not an error
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    _SESSION.sparkContext.setLogLevel("ERROR")
    return _SESSION


class SparkEngine(Engine):
    name: ClassVar[str] = "spark"
    dialect: ClassVar[str] = "spark"
    distinct_as_set: ClassVar[bool] = True
    decimal_literals_as_double: ClassVar[bool] = True
    materialise_layers: ClassVar[bool] = True

    def __init__(self, master: str = "local[2]") -> None:
        self.spark = spark_session(master)
        self._views: list[str] = []

    def _view(self, name: str, df: Any) -> None:
        df.createOrReplaceTempView(name)
        self._views.append(name)

    def register_files(
        self,
        name: str,
        files: Sequence[Path],
        base: Path | None,
        schema: Mapping[str, str],
        where: str | None = None,
    ) -> None:
        if not files:
            self._view(name, self.spark.sql(self.sql(self.empty_select(schema))))
            return
        reader = self.spark.read.option("mergeSchema", "true")
        if base is not None:
            reader = reader.option("basePath", str(base.resolve()))
        df = reader.parquet(*[str(f.resolve()) for f in files])
        self._view(f"_raw_{name}", df)
        cols = ", ".join(f'"{c}"' for c in schema)
        sql = f'SELECT {cols} FROM "_raw_{name}"' + (f" WHERE {where}" if where else "")
        self._view(name, self.spark.sql(self.sql(sql)))

    def register_query(self, name: str, sql: str) -> None:
        self._view(name, self.spark.sql(self.sql(sql)))

    def register_arrow(self, name: str, table: Any) -> None:
        if table.num_rows == 0:
            self._view(name, self.spark.createDataFrame([], schema=_spark_schema(table.schema)))
        else:
            self._view(
                name, self.spark.createDataFrame(table.to_pandas(), schema=_spark_schema(table.schema))
            )

    def write_parquet(self, sql: str, path: Path) -> int:
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        table = self.spark.sql(self.sql(sql)).toArrow()
        tmp = path.with_suffix(".tmp.parquet")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
        return int(table.num_rows)

    def close(self) -> None:
        for v in self._views:
            self.spark.catalog.dropTempView(v)
        self._views.clear()


def _spark_schema(schema: Any) -> Any:
    import pyarrow as pa
    from pyspark.sql import types as T

    def conv(t: Any) -> Any:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return T.StringType()
        if pa.types.is_int64(t):
            return T.LongType()
        if pa.types.is_integer(t):
            return T.IntegerType()
        if pa.types.is_floating(t):
            return T.DoubleType()
        if pa.types.is_boolean(t):
            return T.BooleanType()
        if pa.types.is_date(t):
            return T.DateType()
        if pa.types.is_timestamp(t):
            return T.TimestampNTZType()
        if pa.types.is_decimal(t):
            return T.DecimalType(t.precision, t.scale)
        raise TypeError(f"no Spark type for Arrow {t}")

    return T.StructType([T.StructField(f.name, conv(f.type), True) for f in schema])
