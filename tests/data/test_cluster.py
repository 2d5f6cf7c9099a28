"""Warehouse clustering: event and fact files sorted by subscriber, by ingest and by ``cluster``."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tagcloud.data.ingest import IngestError, cluster
from tagcloud.data.model import TABLES, TableKind
from tagcloud.data.warehouse import Warehouse

from .ingest_helpers import run


def _sorted(path: Path, cols: tuple[str, ...]) -> bool:
    """Whether the file's rows are in order of ``cols`` as stored (pyarrow keeps file order)."""
    t = pq.read_table(path, columns=list(cols))
    keys = list(zip(*(t.column(c).to_pylist() for c in cols), strict=True))
    return all(a <= b for a, b in pairwise(keys))


def _content(wh: Warehouse, table: str) -> list[tuple[object, ...]]:
    con = wh.connect()
    return con.execute(f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()


def test_event_and_fact_tables_are_clustered_by_subscriber() -> None:
    clustered = {t for t, m in TABLES.items() if m.cluster_by}
    assert {"voice_cdr", "sms", "data_xdr", "billing_monthly", "payments"} <= clustered
    for t in clustered:
        assert TABLES[t].kind in (TableKind.EVENT, TableKind.FACT)
        assert TABLES[t].cluster_by == ("msisdn",)
    # reference tables and the subscriber snapshot keep their arrival order
    assert not TABLES["cells"].cluster_by and not TABLES["subscribers"].cluster_by


@pytest.fixture(scope="module")
def ingested(small_province: Path, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    wh = Warehouse(tmp_path_factory.mktemp("cluster") / "wh")
    run(small_province, wh)
    return wh


def test_ingest_writes_clustered_files(ingested: Warehouse) -> None:
    checked = 0
    for t, m in TABLES.items():
        if not m.cluster_by:
            continue
        for f in ingested.table_files(t):
            assert _sorted(f, m.cluster_by), f
            checked += 1
    assert checked > 20


def test_cluster_sorts_an_old_warehouse_and_keeps_every_row(ingested: Warehouse, tmp_path: Path) -> None:
    import shutil

    wh = Warehouse(tmp_path / "wh")
    shutil.copytree(ingested.root, wh.root)
    # an old warehouse: files in arrival order (here: reversed by record), as ingest wrote them before
    con = duckdb.connect()
    for f in wh.table_files("voice_cdr") + wh.table_files("data_xdr"):
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{f}') ORDER BY record_id DESC) TO '{f}.x' (FORMAT parquet)"
        )
        Path(f"{f}.x").replace(f)
    assert not all(_sorted(f, ("msisdn",)) for f in wh.table_files("voice_cdr"))
    before = {t: _content(wh, t) for t in ("voice_cdr", "data_xdr", "sms")}

    result = cluster(wh, quiet=True)

    assert result.files == sum(len(wh.table_files(t)) for t in TABLES if TABLES[t].cluster_by)
    assert result.rows == sum(
        pq.ParquetFile(f).metadata.num_rows for t in TABLES if TABLES[t].cluster_by for f in wh.table_files(t)
    )
    for t in ("voice_cdr", "data_xdr", "sms"):
        assert all(_sorted(f, ("msisdn",)) for f in wh.table_files(t))
        assert _content(wh, t) == before[t]
    assert not list(wh.tables_dir.rglob("*.cluster.tmp"))


def test_cluster_refuses_unknown_tables(ingested: Warehouse) -> None:
    with pytest.raises(IngestError, match="unknown table 'voice'"):
        cluster(ingested, ["voice"], quiet=True)
