"""A small simulated province, ingested into a warehouse once per session, for the builder tests."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tag_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 subscribers × 8 days from 2026-10-01 (seed 3), ingested. Read-only: copy it to change it."""
    from datetime import datetime

    from tagcloud.data.ingest import IngestOptions, ingest
    from tagcloud.sim.simulate import simulate

    src = tmp_path_factory.mktemp("tag_province")
    simulate(src, subscribers=400, days=8, seed=3, start=dt.date(2026, 10, 1), quiet=True)
    wh = tmp_path_factory.mktemp("tag_warehouse")
    ingest(src, wh, IngestOptions(quiet=True, now=datetime(2026, 11, 1)))
    return wh


@pytest.fixture(scope="session")
def catalogue():  # -> Catalogue
    from tagcloud.tags.catalogue import load_catalogue

    return load_catalogue()


@pytest.fixture(scope="session")
def built(tag_warehouse: Path, catalogue, tmp_path_factory: pytest.TempPathFactory):  # -> (Path, BuildResult)
    """The package catalogue built with DuckDB over a copy of the province, October 2026 (tags that
    need model outputs are left out: the models do not run here)."""
    from tagcloud.tags.build import build

    wh = tmp_path_factory.mktemp("built") / "wh"
    shutil.copytree(tag_warehouse, wh)
    return wh, build(wh, period="2026-10", catalogue=catalogue, quiet=True, skip_missing_models=True)


def copy_warehouse(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
