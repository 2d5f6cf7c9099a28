"""A run killed at any moment resumes, when run again, without duplicates or loss."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tagcloud.data.damage import damage
from tagcloud.data.fixtures import build_export
from tagcloud.data.ingest import FAULT_ENV
from tagcloud.data.warehouse import Warehouse

pytestmark = pytest.mark.slow

INGEST = "from tagcloud.cli import app; app()"


def _ingest_cmd(src: Path, wh: Path) -> list[str]:
    return [sys.executable, "-c", INGEST, "ingest", str(src), "--warehouse", str(wh)]


def _contents(wh: Warehouse) -> dict[str, object]:
    """Every table's rows (sorted), every quarantine's rows, and the state of the sources."""
    con = wh.connect()
    out: dict[str, object] = {}
    for t in wh.tables():
        out[t] = sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall()))
    out["quarantine"] = sorted(
        map(
            repr, con.execute("SELECT table_name, source_file, row_number, reason FROM quarantine").fetchall()
        )
    )
    out["files"] = sorted(str(p.relative_to(wh.root)) for p in wh.root.rglob("*.parquet"))
    with sqlite3.connect(wh.ledger_path) as db:
        out["sources"] = sorted(
            db.execute("SELECT table_name, stem, fingerprint, state, outputs FROM sources")
        )
        out["dirty"] = sorted(db.execute("SELECT DISTINCT table_name, period, reason FROM dirty_periods"))
    return out


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("crash")
    # 10 good files (3 reference, 3 + 3 days, 1 month), 3 of them damaged, plus 4 broken files
    build_export(
        d / "clean",
        subscribers=60,
        days=3,
        rows_per_day=150,
        tables=("regions", "cells", "products", "voice_cdr", "sms", "orders"),
    )
    damage(d / "clean", d / "damaged", seed=5)
    return d / "damaged"


@pytest.fixture(scope="module")
def reference(drop: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    wh = tmp_path_factory.mktemp("ref") / "wh"
    subprocess.run(_ingest_cmd(drop, wh), check=True, capture_output=True)
    return _contents(Warehouse(wh))


@pytest.mark.parametrize("fault", ["before_move:4", "mid_move:6", "before_record:9", "after_record:10"])
def test_killed_run_resumes_to_the_same_warehouse(
    drop: Path, reference: dict[str, object], tmp_path: Path, fault: str
) -> None:
    wh = tmp_path / "wh"
    killed = subprocess.run(_ingest_cmd(drop, wh), env=os.environ | {FAULT_ENV: fault}, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    with sqlite3.connect(wh / "ledger.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("running",)]
    resumed = subprocess.run(_ingest_cmd(drop, wh), capture_output=True)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    got = _contents(Warehouse(wh))
    assert got == reference
    assert not (wh / "_staging").exists()
    with sqlite3.connect(wh / "ledger.sqlite") as db:
        assert db.execute("SELECT status FROM runs ORDER BY run_id").fetchall() == [
            ("interrupted",),
            ("finished",),
        ]


def test_killed_from_outside_at_an_arbitrary_moment(
    drop: Path, reference: dict[str, object], tmp_path: Path
) -> None:
    wh = tmp_path / "wh"
    proc = subprocess.Popen(_ingest_cmd(drop, wh), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # wait until a few files are recorded, then kill without warning
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(wh / "ledger.sqlite", timeout=1) as db:
                if db.execute("SELECT count(*) FROM files").fetchone()[0] >= 6:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(_ingest_cmd(drop, wh), check=True, capture_output=True)
    got = _contents(Warehouse(wh))
    assert got == reference
