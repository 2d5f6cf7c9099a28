"""Shared fixtures: a synthetic multi-shard warehouse indexed once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagcloud.audience.indexer import build_index
from tagcloud.audience.synth import WideSpec, write_wide

ROWS = 140_000  # > 2 × 65,536 so a shard size of 65,536 gives three shards


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wh = tmp_path_factory.mktemp("aud_wh")
    write_wide(wh, WideSpec(rows=ROWS, flags=24, enums=4, numbers=5, seed=11, row_group=50_000), quiet=True)
    build_index(wh, shard_size=65_536, quiet=True)
    return wh


@pytest.fixture(scope="session")
def duck(warehouse: Path):
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW wide AS SELECT * FROM read_parquet('{warehouse}/wide/current/wide.parquet')")
    return con
