"""Quick modes of the benchmarks in bench/, so they cannot rot. Never asserts wall-clock figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.bench
def test_dpi_quick() -> None:
    r = _load("dpi").main(["--quick"])
    assert r.records == 200_000
    assert r.false_positives_engine == 0 and r.wrong_site == 0 and r.wrong_content == 0
    # The look-alike hosts really are traps: the naive substring matcher falls for them.
    assert r.false_positives_baseline > 0
