"""Snapshots (subscribers) arrive as dated files: the newest one is the table, older ones never replace it."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tagcloud.data.fixtures import build_export
from tagcloud.data.ledger import FileStatus
from tagcloud.data.warehouse import Warehouse

from .ingest_helpers import base_warehouse, clone, run


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return base_warehouse(tmp_path_factory.mktemp("snap_base"))


@pytest.fixture(scope="module")
def subscribers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A subscribers snapshot file of 50 rows (valid against the base warehouse's products and regions)."""
    src = tmp_path_factory.mktemp("snap_src")
    build_export(
        src, subscribers=50, days=1, rows_per_day=10, tables=("regions", "cells", "products", "subscribers")
    )
    return src / "subscribers" / "subscribers.parquet"


def _drop(tmp: Path, snapshot: Path, name: str, keep: int) -> Path:
    d = tmp / f"drop-{name}" / "subscribers"
    d.mkdir(parents=True)
    pq.write_table(pq.read_table(snapshot).slice(0, keep), d / f"{name}.parquet")
    return d.parent


def test_a_newer_dated_snapshot_replaces_the_older(
    base: Warehouse, subscribers: Path, tmp_path: Path
) -> None:
    wh = clone(base, tmp_path / "wh")
    first = run(_drop(tmp_path, subscribers, "subscribers_20261101", 50), wh)
    assert first.accepted == 50 and first.quarantined == 0
    second = run(_drop(tmp_path, subscribers, "subscribers_20261102", 40), wh)
    # the same numbers again are not duplicates: the new snapshot is the table now
    assert second.files[0].status is FileStatus.INGESTED
    assert second.accepted == 40 and second.quarantined == 0
    assert wh.connect().execute("SELECT count(*) FROM subscribers").fetchone() == (40,)


def test_an_older_snapshot_arriving_late_is_kept_out(
    base: Warehouse, subscribers: Path, tmp_path: Path
) -> None:
    wh = clone(base, tmp_path / "wh")
    run(_drop(tmp_path, subscribers, "subscribers_20261102", 40), wh)
    late = run(_drop(tmp_path, subscribers, "subscribers_20261101", 50), wh)
    f = late.files[0]
    assert f.status is FileStatus.SUPERSEDED and f.read == 0
    assert "subscribers_20261102" in " ".join(f.notes)
    assert wh.connect().execute("SELECT count(*) FROM subscribers").fetchone() == (40,)


def test_two_snapshots_in_one_drop_is_an_error_naming_both(
    base: Warehouse, subscribers: Path, tmp_path: Path
) -> None:
    wh = clone(base, tmp_path / "wh")
    drop = _drop(tmp_path, subscribers, "subscribers_20261101", 50)
    pq.write_table(pq.read_table(subscribers), drop / "subscribers" / "subscribers_20261102.parquet")
    report = run(drop, wh)
    statuses = sorted(f.status.value for f in report.files)
    assert statuses == ["failed", "ingested"]
    failed = next(f for f in report.files if f.status is FileStatus.FAILED)
    assert "subscribers_20261101" in (failed.error or "") and "subscribers_20261102" in (failed.error or "")
