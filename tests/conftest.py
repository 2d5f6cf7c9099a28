"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean simulator export: 2,000 subscribers × 7 days from 2026-09-15, seed 7, Parquet.

    Generated once per test session (a few seconds). Layout: see docs/simulator.md; the truth is
    in ``<dir>/ground_truth``. Treat it as read-only: other tests share it.
    """
    from tagcloud.sim.simulate import simulate

    out = tmp_path_factory.mktemp("small_province")
    simulate(out, subscribers=2000, days=7, seed=7, quiet=True)
    return out
