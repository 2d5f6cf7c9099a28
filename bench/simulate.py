"""Simulator benchmark (issue 2 §3): generation + writing vs the raw cost of writing random rows.

    uv run python bench/simulate.py                       # 100k subscribers × 30 days
    uv run python bench/simulate.py --subscribers 1000000  # the 1M run (long on a shared machine)
    uv run python bench/simulate.py --quick               # 3k × 3 days (run by the test suite)

The baseline is measured in the same run: for every file the simulator wrote, a table of the same
schema and row count filled with random numbers and strings is built with numpy/pyarrow and written
the same way. ``ratio = simulate seconds / baseline seconds`` shows how close generation comes to the
I/O floor. Peak memory is the highest RSS sampled (psutil) while the simulator runs. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Result:
    subscribers: int
    days: int
    rows: int = 0
    seconds: float = 0.0
    baseline_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    per_table: dict[str, int] = field(default_factory=dict)
    generation_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else float("nan")


class _PeakRss:
    """Samples this process's RSS on a thread; ``peak`` in bytes."""

    def __init__(self, every: float = 0.2) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = self.proc.memory_info().rss
        self.every = every
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(self.every)

    def __enter__(self) -> _PeakRss:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _random_table(schema: Any, rows: int, rng: np.random.Generator) -> Any:
    """Random data of the given schema: what writing costs with no thought behind the values."""
    import pyarrow as pa

    cols = []
    for f in schema:
        t = f.type
        if pa.types.is_string(t):
            cols.append(pa.array(rng.integers(10**10, 2 * 10**10, rows)).cast(pa.string()))
        elif pa.types.is_timestamp(t):
            cols.append(pa.array(1_790_000_000_000_000 + rng.integers(0, 86_400_000_000, rows), t))
        elif pa.types.is_date(t):
            cols.append(pa.array(np.full(rows, np.datetime64("2026-09-15"))))
        elif pa.types.is_boolean(t):
            cols.append(pa.array(rng.random(rows) < 0.5))
        elif pa.types.is_decimal(t):
            cols.append(pa.array(np.round(rng.random(rows) * 100, 2)).cast(t))
        elif pa.types.is_floating(t):
            cols.append(pa.array(rng.random(rows)))
        else:
            cols.append(pa.array(rng.integers(0, 30_000, rows)).cast(t))
    return pa.table(cols, schema=schema)


def baseline(manifest: dict[str, Any], scratch: Path) -> float:
    """Seconds to build and write random tables with the same files, schemas and row counts."""
    import pyarrow.parquet as pq

    from tagcloud.data.model import arrow_schema, table

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for name, files in manifest["files"].items():
        schema = arrow_schema(table(name))
        for f, rows in files.items():
            path = scratch / f
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                _random_table(schema, rows, rng), path.with_suffix(".parquet"), compression="snappy"
            )
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> Result:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="3,000 subscribers × 3 days")
    ap.add_argument(
        "--out", type=Path, default=None, help="keep the export here (default: a temporary folder)"
    )
    a = ap.parse_args(argv)
    if a.quick:
        a.subscribers, a.days = 3_000, 3
    from tagcloud.sim.simulate import simulate

    tmp = Path(tempfile.mkdtemp(prefix="bench_sim_"))
    out = a.out or tmp / "export"
    r = Result(a.subscribers, a.days)
    try:
        with _PeakRss() as mem:
            t0 = time.perf_counter()
            m = simulate(out, a.subscribers, a.days, a.seed, quiet=a.quick)
            r.seconds = time.perf_counter() - t0
        r.peak_rss_mb = mem.peak / 2**20
        r.per_table = m["rows"]
        r.rows = sum(m["rows"].values())
        r.generation_seconds = m["generation_seconds"]
        r.baseline_seconds = baseline(m, tmp / "baseline")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"simulate {a.subscribers:,} subscribers × {a.days} days: {r.rows:,} rows in {r.seconds:,.1f} s "
          f"({r.rows / r.seconds:,.0f} rows/s), peak RSS {r.peak_rss_mb:,.0f} MB")  # fmt: skip
    print(f"baseline (random rows of the same files written with pyarrow): {r.baseline_seconds:,.1f} s; "
          f"ratio simulate/baseline = {r.ratio:.2f}")  # fmt: skip
    print(f"{'table':<22}{'rows':>14}{'gen s':>9}{'gen rows/s':>14}{'end-to-end rows/s':>20}")
    for name, rows in sorted(r.per_table.items(), key=lambda kv: -kv[1]):
        g = r.generation_seconds.get(name)
        gen = f"{g:9.1f}{rows / g:14,.0f}" if g else f"{'':>9}{'':>14}"
        print(f"{name:<22}{rows:>14,}{gen}{rows / r.seconds:>20,.0f}")
    return r


if __name__ == "__main__":
    main()
