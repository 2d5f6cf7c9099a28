"""Small builders of valid and broken rows for the ingestion tests (until the simulator's fixture)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from tagcloud.data.fixtures import build_export
from tagcloud.data.ingest import IngestOptions, IngestReport, ingest
from tagcloud.data.model import TABLES
from tagcloud.data.warehouse import Warehouse

VOICE_COLUMNS = TABLES["voice_cdr"].column_names
CELL = "C100000"  # first cell of build_export's cells table
NOW = datetime(2026, 11, 23, 12, 0, 0)  # "the future" starts here in every test


def base_warehouse(tmp: Path) -> Warehouse:
    """A warehouse holding the reference tables of a small export (so foreign keys resolve)."""
    src = tmp / "ref_export"
    build_export(src, subscribers=50, days=1, rows_per_day=10, tables=("regions", "cells", "products"))
    wh = Warehouse(tmp / "base_wh")
    run(src, wh)
    return wh


def clone(wh: Warehouse, dest: Path) -> Warehouse:
    shutil.copytree(wh.root, dest)
    return Warehouse(dest)


def run(src: Path, wh: Warehouse, **kw: object) -> IngestReport:
    return ingest(src, wh, IngestOptions(now=NOW, quiet=True, threads=1, **kw))  # type: ignore[arg-type]


def voice_row(i: int, day: str = "2026-10-01") -> dict[str, str]:
    """A valid voice_cdr row as text."""
    return {
        "record_id": str(1000 + i),
        "msisdn": f"1380000{i % 10000:04d}",
        "peer_number": "10086" if i % 3 == 0 else f"1390000{i % 10000:04d}",
        "direction": "MO" if i % 2 else "MT",
        "start_time": f"{day} {i % 24:02d}:{i % 60:02d}:07",
        "duration_s": str(i % 600),
        "cell_id": CELL if i % 5 else "",
        "peer_operator": "CMCC",
        "roaming": "false",
    }


def write_text(
    path: Path,
    rows: list[dict[str, str]] | list[str],
    delimiter: str = ",",
    encoding: str = "utf-8",
    columns: tuple[str, ...] = VOICE_COLUMNS,
) -> None:
    lines = [delimiter.join(columns)]
    for r in rows:
        lines.append(r if isinstance(r, str) else delimiter.join(r[c] for c in columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
