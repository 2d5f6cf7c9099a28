"""End to end: a clean export ingests with nothing quarantined; its damaged copy with exactly the
counts the damage manifest predicts, per table and per reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagcloud.data.damage import damage
from tagcloud.data.fixtures import build_export
from tagcloud.data.ledger import FileStatus
from tagcloud.data.quarantine import Reason
from tagcloud.data.warehouse import Warehouse

from .ingest_helpers import run


@pytest.fixture(scope="module", params=["simulator", "fixtures"])
def clean_export(
    request: pytest.FixtureRequest, small_province: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The simulator's small export, and a model-driven valid export of every table."""
    if request.param == "simulator":
        return small_province
    out = tmp_path_factory.mktemp("e2e") / "clean"
    build_export(out, subscribers=200, days=3, rows_per_day=400)
    return out


def test_clean_export_has_nothing_quarantined(clean_export: Path, tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    report = run(clean_export, wh)
    problems = [
        (f.source_path, f.error, f.reasons)
        for f in report.files
        if f.status is not FileStatus.INGESTED or f.quarantined
    ]
    assert problems == []
    assert report.read == report.accepted > 0
    con = wh.connect()
    for table, row in report.by_table().items():
        assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone() == (row["accepted"],)


def test_damaged_copy_gives_the_expected_counts(clean_export: Path, tmp_path: Path) -> None:
    manifest = damage(clean_export, tmp_path / "damaged", seed=11)
    assert manifest == json.loads((tmp_path / "damaged" / "damage_manifest.json").read_text(encoding="utf-8"))
    # between them, the damaged tables show every reason there is
    assert {r for reasons in manifest["expected_reasons"].values() for r in reasons} == {
        r.value for r in Reason
    }
    wh = Warehouse(tmp_path / "wh")
    report = run(tmp_path / "damaged", wh)
    for table, reasons in manifest["expected_reasons"].items():
        assert dict(report.reasons(table)) == reasons, table
    got_rows = {
        t: {k: r[k] for k in ("read", "accepted", "quarantined")} for t, r in report.by_table().items()
    }
    assert got_rows == manifest["expected_rows"]
    failed = sorted(
        Path(f.source_path).relative_to(tmp_path / "damaged").as_posix()
        for f in report.with_status(FileStatus.FAILED)
    )
    assert failed == sorted(f["path"] for f in manifest["failed_files"])
    unrec = sorted(
        Path(f.source_path).relative_to(tmp_path / "damaged").as_posix()
        for f in report.with_status(FileStatus.UNRECOGNISED)
    )
    assert unrec == sorted(manifest["unrecognised_files"])
    # the quarantine is queryable and agrees with the report
    con = wh.connect()
    q = dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY ALL").fetchall())
    assert q == dict(report.reasons())
    # and the ledger holds the same reconciliation
    with wh.ledger() as led:
        r = led.con.execute(
            "SELECT rows_read, rows_accepted, rows_quarantined FROM runs WHERE run_id = ?", (report.run_id,)
        ).fetchone()
    assert r == (report.read, report.accepted, report.quarantined)
    assert report.read == report.accepted + report.quarantined


@pytest.mark.slow
def test_simulator_csv_in_gbk_with_pipes_ingests_like_its_parquet(tmp_path: Path) -> None:
    from tagcloud.sim.simulate import simulate

    simulate(tmp_path / "pq", subscribers=300, days=2, seed=3, quiet=True)
    simulate(
        tmp_path / "csv",
        subscribers=300,
        days=2,
        seed=3,
        quiet=True,
        fmt="csv",
        delimiter="|",
        encoding="gbk",
    )
    a, b = Warehouse(tmp_path / "wa"), Warehouse(tmp_path / "wb")
    ra, rb = run(tmp_path / "pq", a), run(tmp_path / "csv", b)
    assert ra.quarantined == rb.quarantined == 0 and ra.read == rb.read > 0
    # Chinese names make GBK visible; pure-ASCII files read the same in either encoding
    assert next(f for f in rb.files if f.table == "regions").encoding == "gbk"
    ca, cb = a.connect(), b.connect()
    for t in a.tables():
        q = f'SELECT * FROM "{t}" ORDER BY ALL'
        assert ca.execute(q).fetchall() == cb.execute(q).fetchall(), t
