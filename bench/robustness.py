"""Benchmark: Tagcloud under bad input and faults — a table of inputs tried and what they cost.

Each row of the table is one **check** from the registry ``CHECKS``: a function that runs a family
of inputs against the real components and returns counts. A count named in ``must_be_zero``
(crashes, rows lost, violations of the law …) is the claim; the run exits 1 if one is not zero.
Checks of other areas (contact-cap violations under concurrency, duplicate SMS after a crash,
server errors under API fuzzing, authz cells, login lockout) are added with ``@check(area, name)``
and a function returning a ``Counts``; each area prints as its own table.

Ingestion: every hand-made family of ``tagcloud.data.corpus`` plus generated random drops, each
held to the reconciliation law (``corpus.check``). Side by side, the baseline: plain DuckDB
``read_csv`` / ``read_parquet`` with auto-detection over the same files — the files it cannot
read at all, and the rows it returns without a word about the damaged ones.

    uv run python bench/robustness.py --quick          # seconds (tests/bench runs this; no crash rows)
    uv run python bench/robustness.py --drops 200 --rows 500
    uv run python bench/robustness.py --only crash     # every kill point of the 5 job types (long)
    uv run python bench/robustness.py --only crash --kill-points 4   # a sample per job type

Crash: for each job type (ingest, tag build, audience index, campaign SMS, real-time worker) the
kill points are generated from the calls a clean run really makes (tests/robustness/killpoints.py);
at each one the job runs in a subprocess that dies by SIGKILL there, what a reader sees right then
is checked (no half-written Parquet, index or pointer), the job is restarted and its end state must
equal the run never killed, with 0 duplicate SMS in the SMSC journal, 0 contacts that never reached
it, 0 left unknown (the SMSC's journal settles them) and the contact cap intact.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Counts:
    """What one check found: named counts, the ones that must be zero, and the breaches in words."""

    counts: dict[str, int]
    must_be_zero: tuple[str, ...] = ()
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Check:
    area: str
    name: str
    run: Callable[[Path, argparse.Namespace], Counts]


CHECKS: list[Check] = []


def check(area: str, name: str) -> Callable[[Callable[[Path, argparse.Namespace], Counts]], Callable]:
    """Register a check: ``fn(workdir, args) -> Counts``."""

    def deco(fn: Callable[[Path, argparse.Namespace], Counts]) -> Callable:
        CHECKS.append(Check(area, name, fn))
        return fn

    return deco


# --- ingestion -----------------------------------------------------------------------------------

INGEST_ZERO = ("crashes", "rows lost", "violations")


def _baseline(files: list[Path]) -> tuple[int, int]:
    """(files plain DuckDB cannot read, rows it returns) with auto-detection, no checks."""
    import duckdb

    con = duckdb.connect()
    failed = rows = 0
    for f in files:
        reader = "read_parquet" if ".parquet" in f.name else "read_csv"
        try:
            r = con.execute(f"SELECT count(*) FROM {reader}(?)", [str(f)]).fetchone()
            rows += int(r[0]) if r else 0
        except Exception:  # any refusal counts: this is what the baseline does with the file
            failed += 1
    return failed, rows


def _ingest_counts(tally: object, work: Path, seconds: float) -> Counts:
    # the source files of the drops (not the warehouse's own tables/ and quarantine/ folders)
    files = [
        p
        for p in work.rglob("*")
        if p.is_file() and p.parent.name == "data_xdr" and not {"tables", "quarantine"} & set(p.parts)
    ]
    b_failed, b_rows = _baseline(files)
    t = tally
    return Counts(
        {
            "inputs": t.inputs,  # type: ignore[attr-defined]
            "crashes": t.crashes,  # type: ignore[attr-defined]
            "refused whole": t.refused,  # type: ignore[attr-defined]
            "rows read": t.read,  # type: ignore[attr-defined]
            "accepted": t.accepted,  # type: ignore[attr-defined]
            "quarantined": t.quarantined,  # type: ignore[attr-defined]
            "normalised": t.normalised,  # type: ignore[attr-defined]
            "rows lost": t.lost,  # type: ignore[attr-defined]
            "violations": len(t.violations),  # type: ignore[attr-defined]
            "DuckDB: files failed": b_failed,
            "DuckDB: rows": b_rows,
        },
        INGEST_ZERO,
        list(t.violations),  # type: ignore[attr-defined]
        seconds,
    )


def _register_families() -> None:
    """One check per hand-made family of the corpus (registered on first run: imports are lazy)."""
    from tagcloud.data.corpus import FAMILIES, run_family

    if any(k.area == "ingestion" and k.name in FAMILIES for k in CHECKS):
        return

    for fam in FAMILIES:

        def run(work: Path, a: argparse.Namespace, fam: str = fam) -> Counts:
            t0 = time.perf_counter()
            tally = run_family(fam, work, random.Random(a.seed))
            return _ingest_counts(tally, work, time.perf_counter() - t0)

        check("ingestion", fam)(run)


@check("ingestion", "generated drops (random variants, encodings, compression, breaks)")
def _generated(work: Path, a: argparse.Namespace) -> Counts:
    from tagcloud.data.corpus import Tally, _ingest, build_drop, check, random_spec
    from tagcloud.data.warehouse import Warehouse

    rng = random.Random(a.seed)
    total = Tally()
    t0 = time.perf_counter()
    for k in range(a.drops):
        spec = random_spec(rng, rows=a.rows)
        e = build_drop(work / f"drop{k}", spec)
        wh = Warehouse(work / f"wh{k}")
        report = _ingest(work / f"drop{k}", wh)
        total.add(check(report, wh, [e], {e.path.name} if e.lines == 0 or spec.cut else set()))
    return _ingest_counts(total, work, time.perf_counter() - t0)


# --- crash: kill -9 at kill points of every job type, then a restart -------------------------------

CRASH_ZERO = (
    "not killed there",
    "restart failed",
    "end state differs",
    "violations",
    "duplicate SMS",
    "missed SMS",
    "left unknown",
    "cap violations",
)


def _register_crash() -> None:
    """One check per job type: every kill point of tests/robustness/killpoints (≥ 20 each)."""
    if any(k.area == "crash" for k in CHECKS):
        return
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.robustness.crash_scenarios import SCENARIOS

    for job, cls in SCENARIOS.items():

        def run(work: Path, a: argparse.Namespace, cls: type = cls) -> Counts:
            t0 = time.perf_counter()
            sc = cls(work)
            sc.discover()
            pts = sc.points()
            if a.kill_points:
                pts = random.Random(a.seed).sample(pts, min(a.kill_points, len(pts)))
            total: dict[str, int] = {"kill points": len(pts)}
            violations: list[str] = []
            for p in pts:
                out = sc.run_point(p)
                for k, v in out.counts.items():
                    total[k] = total.get(k, 0) + v
                violations += out.violations
            total["not killed there"] = len(pts) - total.get("killed", 0)
            total["restart failed"] = total.get("killed", 0) - total.get("restarted", 0)
            total["end state differs"] = total.pop("differs", 0)
            total["violations"] = len(violations)
            return Counts(total, CRASH_ZERO, violations, time.perf_counter() - t0)

        check("crash", job)(run)


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Result:
    rows: list[tuple[Check, Counts]]

    def total(self, name: str, area: str | None = None) -> int:
        return sum(c.counts.get(name, 0) for k, c in self.rows if area is None or k.area == area)

    @property
    def breaches(self) -> list[str]:
        return [
            f"{k.name}: {n} = {c.counts[n]}" for k, c in self.rows for n in c.must_be_zero if c.counts.get(n)
        ]


def _print(result: Result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 200))
    for area in dict.fromkeys(k.area for k, _ in result.rows):
        rows = [(k, c) for k, c in result.rows if k.area == area]
        names = list(dict.fromkeys(n for _, c in rows for n in c.counts))
        zero = {n for _, c in rows for n in c.must_be_zero}
        table = Table(title=f"Robustness: {area} (columns marked * must be 0)")
        table.add_column("input family")
        for n in names:
            table.add_column(n + (" *" if n in zero else ""), justify="right")
        table.add_column("s", justify="right")
        for k, c in rows:
            cells = []
            for n in names:
                v = c.counts.get(n)
                cells.append("" if v is None else (f"[red]{v:,}" if n in zero and v else f"{v:,}"))
            table.add_row(k.name, *cells, f"{c.seconds:.1f}")
        table.add_row("[bold]total", *(f"{result.total(n, area):,}" for n in names), "")
        console.print(table)
    for k, c in result.rows:
        for v in c.violations[:5]:
            console.print(f"[red]{k.name}: {v}")


def main(argv: list[str] | None = None) -> Result:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="every family once and a few generated drops")
    ap.add_argument("--drops", type=int, default=100, help="generated drops")
    ap.add_argument("--rows", type=int, default=500, help="rows per generated drop")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", help="run the checks whose area or name contains this")
    ap.add_argument("--workdir", type=Path, help="where to put data (default: a temporary folder)")
    ap.add_argument(
        "--kill-points", type=int, default=0, help="crash: a random sample of this many per job type (0: all)"
    )
    a = ap.parse_args(argv)
    if a.quick:
        a.drops, a.rows = 8, 40
    _register_families()
    if not a.quick or (
        a.only and "crash" in a.only
    ):  # minutes: tests/robustness/test_crash.py runs a few in CI
        _register_crash()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench_robust_"))
    rows: list[tuple[Check, Counts]] = []
    try:
        for i, k in enumerate(CHECKS):
            if a.only and a.only not in k.area and a.only not in k.name:
                continue
            d = work / f"check{i}"
            d.mkdir(parents=True, exist_ok=True)
            rows.append((k, k.run(d, a)))
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    result = Result(rows)
    _print(result)
    return result


if __name__ == "__main__":
    r = main()
    sys.exit(1 if r.breaches else 0)
