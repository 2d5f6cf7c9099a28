"""Kill points: run a real job in a subprocess, kill it with SIGKILL at a named point, restart it.

A kill point is ``module:Qualified.name:when:n`` — the n-th call of that function in the job's
process, killed ``before`` it runs, ``after`` it returned, or ``torn`` (a file write: half the bytes
written, then the kill). The wrapper is installed in the job's own process by this module's
``__main__`` (environment ``TAGCLOUD_KILL_AT``), so the library carries no hooks: the realtime
worker, the tag builder and the indexer are killed at their real boundaries (ledger commits, SMPP
writes, Parquet writes, renames) without a line of theirs changed.

Which points exist is not a hand-kept list: ``discover`` runs the job once with every candidate
function counted, and ``points`` spreads ``n`` over the calls really made (the first, the last and
some between), so a point that is never reached cannot hide in the suite (a killed run that ends
with 0 fails).

    python -m tests.robustness.killpoints <job> <json arguments>     # what the tests run
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
KILL_ENV = "TAGCLOUD_KILL_AT"  # "module:Qual.name:when:n"
COUNT_ENV = "TAGCLOUD_KILL_COUNT"  # a file: count calls of every candidate, write them there at exit

# Candidate functions per job: the boundaries where a crash does damage (commits, writes, renames,
# socket writes). Looked up where the job's code looks them up (module globals or classes).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "ingest": (
        "tagcloud.data.ledger:Ledger.begin_commit",
        "tagcloud.data.ledger:Ledger.finish_commit",
        "tagcloud.data.ledger:Ledger.record_file",
        "tagcloud.data.ledger:Ledger.finish_run",
        "tagcloud.data.warehouse:Warehouse.refresh_catalog",
        "os:replace",
        "pathlib:Path.unlink",
    ),
    "build": (
        "tagcloud.tags.engines.duckdb:DuckDBEngine.write_parquet",
        "tagcloud.tags.build:publish",
        "tagcloud.tags.build:_consume_dirty",
        "tagcloud.tags.runs:RunLog.record",
        "pathlib:Path.write_text",
        "pathlib:Path.unlink",
        "os:replace",
    ),
    "index": (
        "tagcloud.audience.indexer:_ShardWriter.add",
        "tagcloud.audience.indexer:_ShardWriter.close",
        "tagcloud.audience.indexer:_write_bsi",
        "tagcloud.audience.indexer:build_row_store",
        "tagcloud.audience.dictionary:Dictionary.save",
        "pathlib:Path.write_text",
        "pathlib:Path.rename",
    ),
    "campaign": (
        "tagcloud.campaigns.policy:ContactLedger.reserve_list",
        "tagcloud.campaigns.policy:ContactLedger.record_control",
        "tagcloud.campaigns.policy:ContactLedger.claim_due",
        "tagcloud.campaigns.policy:ContactLedger.set_status",
        "tagcloud.campaigns.policy:ContactLedger.set_status_by_external",
        "tagcloud.campaigns.channels.smpp:SmppClient._send",
        "os:replace",
    ),
    "realtime": (
        "tagcloud.campaigns.policy:ContactLedger.reserve_many",
        "tagcloud.campaigns.policy:ContactLedger.claim_ids",
        "tagcloud.campaigns.policy:ContactLedger.set_status",
        "tagcloud.campaigns.policy:ContactLedger.set_status_by_external",
        "tagcloud.campaigns.channels.smpp:SmppClient._send",
        "tagcloud.realtime.bus:SqliteBus.ack",
        "tagcloud.realtime.bus:SqliteBus.fetch",
    ),
}
TORN = frozenset({"pathlib:Path.write_text"})  # writes that can be cut half-way
# calls whose number depends on timing (receipts, socket writes, polls): kill points stay in the
# first three quarters of the calls counted, so a killed run reaches them
VARIABLE = frozenset(
    {
        "tagcloud.campaigns.policy:ContactLedger.set_status_by_external",
        "tagcloud.campaigns.channels.smpp:SmppClient._send",
        "tagcloud.realtime.bus:SqliteBus.fetch",
        "tagcloud.campaigns.policy:ContactLedger.set_status",
        "tagcloud.campaigns.policy:ContactLedger.claim_ids",
        "tagcloud.campaigns.policy:ContactLedger.reserve_many",
        "tagcloud.realtime.bus:SqliteBus.ack",
    }
)


@dataclass(frozen=True)
class KillPoint:
    target: str  # module:Qual.name
    when: str  # before | after | torn
    n: int  # the n-th call

    @property
    def spec(self) -> str:
        return f"{self.target}:{self.when}:{self.n}"

    @property
    def label(self) -> str:
        return f"{self.target.split(':')[1]} {self.when} #{self.n}"

    @classmethod
    def parse(cls, spec: str) -> KillPoint:
        target, when, n = spec.rsplit(":", 2)
        return cls(target, when, int(n))


def _resolve(target: str) -> tuple[Any, str]:
    module, qual = target.split(":")
    owner: Any = importlib.import_module(module)
    *path, name = qual.split(".")
    for p in path:
        owner = getattr(owner, p)
    return owner, name


def _kill() -> None:
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_kill(point: KillPoint) -> None:
    """Wrap the point's function in this process: SIGKILL at its n-th call."""
    owner, name = _resolve(point.target)
    orig = getattr(owner, name)
    calls = 0

    @functools.wraps(orig)
    def wrapper(*a: Any, **k: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == point.n:
            if point.when == "before":
                _kill()
            if point.when == "torn":  # Path.write_text(self, data): half of it reaches the disk
                data = a[1] if len(a) > 1 else k["data"]
                with open(a[0], "w", encoding="utf-8") as fh:
                    fh.write(data[: len(data) // 2])
                _kill()
        out = orig(*a, **k)
        if calls == point.n and point.when == "after":
            _kill()
        return out

    setattr(owner, name, wrapper)


def install_counters(targets: Sequence[str], out: Path) -> None:
    """Count calls of each target; write {target: calls} to ``out`` at exit."""
    import atexit

    counts = dict.fromkeys(targets, 0)
    for t in targets:
        owner, name = _resolve(t)
        orig = getattr(owner, name)

        def wrapper(*a: Any, _orig: Callable[..., Any] = orig, _t: str = t, **k: Any) -> Any:
            counts[_t] += 1
            return _orig(*a, **k)

        setattr(owner, name, functools.wraps(orig)(wrapper))
    atexit.register(lambda: out.write_text(json.dumps(counts)))


# --- the jobs, as their process runs them ---------------------------------------------------------


def _job_ingest(a: dict[str, Any]) -> None:
    from datetime import datetime

    from tagcloud.data.ingest import IngestOptions, ingest

    ingest(Path(a["src"]), Path(a["wh"]), IngestOptions(quiet=True, now=datetime(2026, 11, 1), threads=1))


def _job_build(a: dict[str, Any]) -> None:
    from tagcloud.tags.build import build

    build(
        Path(a["wh"]), period=a["period"], quiet=True, skip_missing_models=True, engine_options={"threads": 1}
    )


def _job_index(a: dict[str, Any]) -> None:
    from tagcloud.audience.indexer import build_index

    build_index(Path(a["wh"]), shard_size=a.get("shard_size", 65_536), quiet=True)


def _job_campaign(a: dict[str, Any]) -> None:
    """Launch, plan and send one SMS campaign wave; the SMSC's journal settles earlier unknowns."""
    import numpy as np

    from tagcloud.campaigns.channels.smpp import SmppClient, journal_records
    from tagcloud.campaigns.execute import Target, launch, plan_wave, run_sms_wave, split_target
    from tagcloud.campaigns.policy import ContactLedger
    from tests.campaigns.helpers import NOON, demo_design

    design = demo_design(waves=("sms",))
    n = int(a["n"])
    ms = np.array([f"135{i:08d}" for i in range(1, n + 1)], dtype=object)
    subs = np.where(np.arange(n) % 2 == 0, "high", "low").astype(object)
    with ContactLedger(a["ledger"]) as led:
        path = launch(led, design, split_target(design, ms, subs), Path(a["snapshots"]))
        plan_wave(led, design, Target.load(path), 0)
        with SmppClient("127.0.0.1", int(a["port"]), window=8, rate=3000) as c:
            run = run_sms_wave(
                led, design, c, 0, NOON, smsc_records=lambda: journal_records(Path(a["journal"]))
            )
    print(json.dumps(run.__dict__), flush=True)


def _job_realtime(a: dict[str, Any]) -> None:
    """The event worker until the bus stays empty. Before it starts, what a killed worker left in
    flight is settled from the SMSC's journal through the ledger's public API (the worker's own
    recovery would mark it UNKNOWN; here those the SMSC never took are sent once more)."""
    import datetime as dt

    from tagcloud.campaigns.channels.smpp import journal_records
    from tagcloud.campaigns.policy import ContactLedger
    from tests.realtime import crash_runner

    with ContactLedger(a["ledger"]) as led:
        stuck = [
            int(r[0])
            for r in led.db.q(
                "SELECT contact_id FROM contacts WHERE channel='sms' AND status='submitting' AND campaign_id LIKE 'rule:%'"
            )
        ]
        recovered = led.recover_ids(stuck, dt.datetime.now())  # the worker that held them is dead
        r = led.resolve_unknown(journal_records(Path(a["journal"])), dt.datetime.now())
    print(json.dumps({"recovered_unknown": recovered, "settled_unknown": r.sent, "resent_unknown": r.resend}))
    crash_runner.main(a["bus"], a["prefix"], a["ledger"], int(a["port"]), int(a["n"]))


JOBS: dict[str, Callable[[dict[str, Any]], None]] = {
    "ingest": _job_ingest,
    "build": _job_build,
    "index": _job_index,
    "campaign": _job_campaign,
    "realtime": _job_realtime,
}


# --- the parent's side ------------------------------------------------------------------------------


def run_job(
    job: str, args: dict[str, Any], point: KillPoint | None = None, count_to: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``job`` in a fresh interpreter; with ``point``, it is expected to die by SIGKILL there."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop(KILL_ENV, None)
    env.pop(COUNT_ENV, None)
    if point is not None:
        env[KILL_ENV] = point.spec
    if count_to is not None:
        env[COUNT_ENV] = str(count_to)
    cmd = [sys.executable, "-m", "tests.robustness.killpoints", job, json.dumps(args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)


def discover(job: str, args: dict[str, Any], workdir: Path) -> dict[str, int]:
    """Run the job once with every candidate counted: {target: calls}."""
    out = workdir / f"counts-{job}.json"
    p = run_job(job, args, count_to=out)
    if p.returncode != 0:
        raise RuntimeError(f"{job} failed while counting its calls: {p.stderr[-3000:]}")
    return {k: v for k, v in json.loads(out.read_text()).items() if v}


def points(job: str, counts: dict[str, int], per_target: int = 4) -> list[KillPoint]:
    """Kill points over the calls really made: before and after the first, the last and some
    between of every candidate; torn writes for the writes that can be cut."""
    out: list[KillPoint] = []
    for target, calls in sorted(counts.items()):
        fractions = (0.25, 0.5, 0.75) if target in VARIABLE else (0.33, 0.66, 1.0)
        ns = sorted({1, *(max(1, int(calls * f)) for f in fractions)})[:per_target]
        whens = ("before", "after", "torn") if target in TORN else ("before", "after")
        for n in ns:
            for w in whens:
                out.append(KillPoint(target, w, n))
    return out


def main(argv: list[str]) -> None:
    job, args = argv[0], json.loads(argv[1])
    if spec := os.environ.get(KILL_ENV):
        install_kill(KillPoint.parse(spec))
    if count := os.environ.get(COUNT_ENV):
        install_counters(CANDIDATES[job], Path(count))
    t0 = time.perf_counter()
    JOBS[job](args)
    print(f"{job} done in {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
