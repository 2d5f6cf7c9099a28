"""The five crash scenarios: a job, the state it leaves, and the laws after kill -9 and a restart.

For every kill point a scenario starts from fresh inputs, runs the job in a subprocess that dies by
SIGKILL at the point, checks what a reader would see right then (never a half-written Parquet file,
index or pointer), restarts the job to completion and compares the end state with a run that was
never killed (the reference, which is also the run that counted the calls). Used by
tests/robustness/test_crash.py (a quick selection) and bench/robustness.py (every point).
"""

from __future__ import annotations

import collections
import hashlib
import json
import shutil
import signal
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.robustness.killpoints import KillPoint, points, run_job

PERIOD = "2026-10"
# counts a restarted SMS job prints: left in flight by the kill, and how the SMSC's records settled them
SETTLED = {
    "recovered_unknown": "in flight at the kill",
    "settled_unknown": "SMSC took it",
    "resent_unknown": "SMSC never took it: resent",
}


@dataclass
class Outcome:
    point: KillPoint | None
    violations: list[str] = field(default_factory=list)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0


class Scenario(ABC):
    job: str = ""
    reference: Any = None
    calls: dict[str, int]

    def __init__(self, base: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def prepare(self) -> None:
        """Shared inputs, once."""

    @abstractmethod
    @contextmanager
    def fresh(self, work: Path) -> Iterator[dict[str, Any]]:
        """Fresh state for one run in ``work``: the job's arguments (servers live while inside)."""

    @abstractmethod
    def state(self, args: dict[str, Any]) -> Any:
        """The end state that must not depend on a crash."""

    def after_kill(self, args: dict[str, Any]) -> list[str]:
        """What a reader sees right after the kill: violations (half-written outputs read)."""
        return []

    def laws(self, args: dict[str, Any], out: Outcome) -> None:
        """Laws of the end state beyond equality with the reference (duplicates, losses)."""
        return None

    def restart(self, args: dict[str, Any], out: Outcome) -> list[str]:
        p = run_job(self.job, args)
        if p.returncode != 0:
            return [f"restart failed (exit {p.returncode}): {p.stderr[-1500:]}"]
        for line in p.stdout.splitlines():  # what the restart settled, when the job says
            if line.startswith("{"):
                for k, v in json.loads(line).items():
                    if k in SETTLED:
                        out.counts[SETTLED[k]] += int(v)
        return []

    # ---- driving --------------------------------------------------------------------------------
    def discover(self) -> dict[str, int]:
        """The reference run: a whole run, never killed, with every candidate's calls counted."""
        self.prepare()
        work = self.base / "reference"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        counts_file = work / "counts.json"
        with self.fresh(work) as args:
            p = run_job(self.job, args, count_to=counts_file)
            if p.returncode != 0:
                raise RuntimeError(f"{self.job}: the reference run failed: {p.stderr[-3000:]}")
            self.reference = self.state(args)
            ref = Outcome(None)
            self.laws(args, ref)
            if ref.violations:
                raise RuntimeError(f"{self.job}: the reference run breaks the laws: {ref.violations[:5]}")
        self.calls = {k: v for k, v in json.loads(counts_file.read_text()).items() if v}
        return self.calls

    def points(self) -> list[KillPoint]:
        return points(self.job, self.calls)

    def run_point(self, point: KillPoint) -> Outcome:
        t0 = time.perf_counter()
        out = Outcome(point)
        work = self.base / f"p{uuid.uuid4().hex[:8]}"
        work.mkdir()
        try:
            with self.fresh(work) as args:
                p = run_job(self.job, args, point)
                if p.returncode != -signal.SIGKILL:
                    out.violations.append(
                        f"{point.label}: not killed there (exit {p.returncode}; reached?) {p.stderr[-800:]}"
                    )
                    return out
                out.counts["killed"] += 1
                out.violations += [f"{point.label}: {v}" for v in self.after_kill(args)]
                problems = self.restart(args, out)
                if problems:
                    out.violations += [f"{point.label}: {v}" for v in problems]
                    return out
                out.counts["restarted"] += 1
                got = self.state(args)
                if got != self.reference:
                    out.violations.append(f"{point.label}: end state differs from the run never killed")
                    out.counts["differs"] += 1
                before = len(out.violations)
                self.laws(args, out)
                out.violations[before:] = [f"{point.label}: {v}" for v in out.violations[before:]]
        finally:
            out.seconds = time.perf_counter() - t0
            shutil.rmtree(work, ignore_errors=True)
        return out


def _parquet_ok(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        pq.ParquetFile(path).metadata  # noqa: B018 — reading the footer is the check
        return True
    except Exception:
        return False


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16]


# --- ingest --------------------------------------------------------------------------------------


class IngestScenario(Scenario):
    """``tagcloud ingest`` of a damaged drop: tables, quarantine and the ledger as a clean run's."""

    job = "ingest"

    def prepare(self) -> None:
        from tagcloud.data.damage import damage
        from tagcloud.data.fixtures import build_export

        self.drop = self.base / "damaged"
        if not self.drop.exists():
            build_export(
                self.base / "clean",
                subscribers=40,
                days=2,
                rows_per_day=80,
                tables=("regions", "cells", "products", "voice_cdr", "sms", "orders"),
            )
            damage(self.base / "clean", self.drop, seed=5)

    @contextmanager
    def fresh(self, work: Path) -> Iterator[dict[str, Any]]:
        yield {"src": str(self.drop), "wh": str(work / "wh")}

    def state(self, args: dict[str, Any]) -> Any:
        from tagcloud.data.warehouse import Warehouse

        wh = Warehouse(Path(args["wh"]))
        con = wh.connect(threads=1)
        out: dict[str, object] = {}
        for t in wh.tables():
            out[t] = sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall()))
        out["quarantine"] = sorted(
            map(
                repr,
                con.execute("SELECT table_name, source_file, row_number, reason FROM quarantine").fetchall(),
            )
        )
        out["files"] = sorted(str(p.relative_to(wh.root)) for p in wh.root.rglob("*.parquet"))
        with sqlite3.connect(wh.ledger_path) as db:
            out["sources"] = sorted(
                db.execute("SELECT table_name, stem, fingerprint, state, outputs FROM sources")
            )
            out["dirty"] = sorted(db.execute("SELECT DISTINCT table_name, period, reason FROM dirty_periods"))
        return out

    def after_kill(self, args: dict[str, Any]) -> list[str]:
        wh = Path(args["wh"])
        return [
            f"half-written {p.relative_to(wh)} where readers look"
            for d in ("tables", "quarantine")
            for p in (wh / d).rglob("*.parquet")
            if not _parquet_ok(p)
        ]

    def laws(self, args: dict[str, Any], out: Outcome) -> None:
        wh = Path(args["wh"])
        with sqlite3.connect(wh / "ledger.sqlite") as db:
            read, acc, quar = db.execute(
                "SELECT sum(rows_read), sum(rows_accepted), sum(rows_quarantined) FROM files "
                "WHERE run_id = (SELECT max(run_id) FROM runs)"
            ).fetchone()
        if (read or 0) != (acc or 0) + (quar or 0):
            out.violations.append(f"rows read {read} != accepted {acc} + quarantined {quar}")
        if (wh / "_staging").exists() and any((wh / "_staging").rglob("*.parquet")):
            out.violations.append("staging files left behind")


# --- tag build -----------------------------------------------------------------------------------


class BuildScenario(Scenario):
    """``tagcloud build`` of a month: the published wide table as a clean build's."""

    job = "build"

    def prepare(self) -> None:
        import datetime as dt

        from tagcloud.data.ingest import IngestOptions, ingest
        from tagcloud.sim.simulate import simulate

        self.wh = self.base / "warehouse"
        if not (self.wh / "ledger.sqlite").exists():
            simulate(
                self.base / "src", subscribers=60, days=3, seed=3, start=dt.date(2026, 10, 1), quiet=True
            )
            ingest(self.base / "src", self.wh, IngestOptions(quiet=True, now=datetime(2026, 11, 1)))

    @contextmanager
    def fresh(self, work: Path) -> Iterator[dict[str, Any]]:
        shutil.copytree(self.wh, work / "wh")
        yield {"wh": str(work / "wh"), "period": PERIOD}

    def state(self, args: dict[str, Any]) -> Any:
        import pyarrow.parquet as pq

        cur = Path(args["wh"]) / "wide" / "current"
        t = pq.read_table(cur / "wide.parquet")
        meta = json.loads((cur / "meta.json").read_text())
        return {
            "columns": t.column_names,
            "rows": sorted(map(repr, zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))),
            "meta_columns": [c["name"] for c in meta["columns"]],
        }

    def after_kill(self, args: dict[str, Any]) -> list[str]:
        cur = Path(args["wh"]) / "wide" / "current"
        if not cur.exists():
            return []  # nothing published yet: readers get "no build", not a broken one
        bad = [] if _parquet_ok(cur / "wide.parquet") else ["wide/current/wide.parquet is half-written"]
        try:
            json.loads((cur / "meta.json").read_text())
        except (OSError, ValueError):
            bad.append("wide/current/meta.json unreadable")
        return bad

    def laws(self, args: dict[str, Any], out: Outcome) -> None:
        wh = Path(args["wh"])
        builds = [p for p in (wh / "wide").glob("build-*") if p.is_dir()]
        with sqlite3.connect(wh / "tags" / "runs.sqlite") as db:
            recorded = {r[0] for r in db.execute("SELECT build_id FROM builds")}
        current = json.loads((wh / "wide" / "current" / "meta.json").read_text())["build_id"]
        if current not in recorded:
            out.violations.append(f"the published build {current} has no run record")
        out.counts["builds kept"] += len(builds)


# --- audience index ------------------------------------------------------------------------------


class IndexScenario(Scenario):
    """``tagcloud audience index`` of the published wide table: the same bitmaps, a readable CURRENT."""

    job = "index"

    def prepare(self) -> None:
        from tagcloud.audience.synth import WideSpec, write_wide

        self.wh = self.base / "warehouse"
        if not (self.wh / "wide" / "current").exists():
            write_wide(
                self.wh,
                WideSpec(rows=3_000, flags=12, enums=3, numbers=3, seed=11, row_group=1_000),
                quiet=True,
            )

    @contextmanager
    def fresh(self, work: Path) -> Iterator[dict[str, Any]]:
        shutil.copytree(self.wh, work / "wh", symlinks=True)
        yield {"wh": str(work / "wh"), "shard_size": 65_536}

    def state(self, args: dict[str, Any]) -> Any:
        from tagcloud.audience.index import AudienceIndex

        idx = AudienceIndex.open(Path(args["wh"]))
        files = {
            str(p.relative_to(idx.folder)): _sha(p)
            for p in sorted(idx.folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"
        }
        m = json.loads((idx.folder / "manifest.json").read_text())
        return {"files": files, "columns": m["columns"], "subscribers": m["subscribers"]}

    def after_kill(self, args: dict[str, Any]) -> list[str]:
        from tagcloud.audience.index import AudienceIndex

        root = Path(args["wh"]) / "index"
        if not (root / "CURRENT").exists():
            return []
        try:
            idx = AudienceIndex.open(Path(args["wh"]))
            _ = idx.subscribers
        except Exception as e:  # any failure here is what a reader would meet
            return [f"index/CURRENT names an index that cannot be read: {type(e).__name__}: {e}"]
        return []


# --- campaign SMS ----------------------------------------------------------------------------------

N_CAMPAIGN = 120  # target members: 108 action contacts + 12 control
CONTROL = 12


class CampaignScenario(Scenario):
    """A campaign launched, planned and sent over SMPP to the local SMSC (its journal is the network)."""

    job = "campaign"

    def prepare(self) -> None:
        pass

    @contextmanager
    def fresh(self, work: Path) -> Iterator[dict[str, Any]]:
        from tagcloud.campaigns.channels.smsc import LocalSmsc
        from tests.realtime.helpers import free_port

        journal = work / "smsc.jsonl"
        with LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01, journal=journal) as smsc:
            yield {
                "ledger": f"sqlite:///{work / 'ledger.db'}",
                "snapshots": str(work),
                "port": smsc.port,
                "n": N_CAMPAIGN,
                "journal": str(journal),
            }
            time.sleep(0.1)

    def state(self, args: dict[str, Any]) -> Any:
        from tagcloud.campaigns.policy import ContactLedger

        with ContactLedger(args["ledger"]) as led:
            rows = led.db.q("SELECT msisdn, status, offer_id, sub_campaign FROM contacts ORDER BY msisdn")
        # submitted and delivered differ only by when a receipt came: the same for the law
        return [(m, "sent" if s in ("submitted", "delivered") else s, o, sc) for m, s, o, sc in rows]

    def laws(self, args: dict[str, Any], out: Outcome) -> None:
        _sms_laws(args, out, expected=N_CAMPAIGN - CONTROL)


def _sms_laws(args: dict[str, Any], out: Outcome, expected: int | None = None, where: str = "") -> None:
    from tagcloud.campaigns.channels.smsc import read_journal
    from tagcloud.campaigns.policy import ContactLedger

    sent = collections.Counter(str(j["to"]) for j in read_journal(Path(args["journal"])))
    with ContactLedger(args["ledger"]) as led:
        rows = led.db.q(f"SELECT msisdn, status FROM contacts WHERE channel='sms' {where}")
        caps = led.cap_violations()
    status = collections.Counter(s for _, s in rows)
    dup = sum(c - 1 for c in sent.values() if c > 1)
    out.counts["SMS sent"] += sum(sent.values())
    out.counts["duplicate SMS"] += dup
    if dup:
        out.violations.append(f"{dup} duplicate SMS, e.g. {[m for m, c in sent.items() if c > 1][:3]}")
    action = [m for m, s in rows if s != "control"]
    missed = [m for m in action if sent.get(str(m), 0) == 0]
    out.counts["missed SMS"] += len(missed)
    if missed:
        out.violations.append(
            f"{len(missed)} contacts never reached the SMSC, e.g. {missed[:3]} ({dict(status)})"
        )
    if expected is not None and len(action) != expected:
        out.violations.append(f"{len(action)} action contacts recorded, {expected} planned")
    stuck = status["unknown"] + status["submitting"] + status["reserved"]
    out.counts["left unknown"] += status["unknown"]
    if stuck:
        out.violations.append(f"contacts left unsettled: {dict(status)}")
    out.counts["cap violations"] += len(caps)
    if caps:
        out.violations.append(f"contact cap broken: {caps[:3]}")


# --- real-time worker ------------------------------------------------------------------------------

N_EVENTS = 600


class RealtimeScenario(Scenario):
    """The event worker deciding roaming events and sending rule SMS (SQLite bus and ledger)."""

    job = "realtime"

    def prepare(self) -> None:
        pass

    @contextmanager
    def fresh(self, work: Path) -> Iterator[dict[str, Any]]:
        from tagcloud.campaigns.channels.smsc import LocalSmsc
        from tagcloud.realtime.bus import open_bus
        from tagcloud.realtime.rulestore import RuleStore
        from tests.realtime.helpers import DAY, NAMES, activate, free_port, roam, roam_rule

        db_url = f"sqlite:///{work / 'ledger.db'}"
        with RuleStore(db_url, names=NAMES) as store:
            activate(store, roam_rule())
        noon = DAY.replace(hour=12)
        bus_url = f"sqlite:///{work / 'events.db'}"
        with open_bus(bus_url) as bus:
            bus.publish([roam(i, i, noon, other=i % 3 != 0).to_json() for i in range(N_EVENTS)])
        journal = work / "smsc.jsonl"
        with LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01, journal=journal) as smsc:
            yield {
                "bus": bus_url,
                "prefix": "KILL",
                "ledger": db_url,
                "port": smsc.port,
                "n": N_EVENTS,
                "journal": str(journal),
            }
            time.sleep(0.1)

    def state(self, args: dict[str, Any]) -> Any:
        from tagcloud.campaigns.policy import ContactLedger

        with ContactLedger(args["ledger"]) as led:
            decided = sorted(led.db.q("SELECT event_id, outcome FROM rt_decisions"))
            contacts = sorted(
                led.db.q(
                    "SELECT msisdn FROM contacts WHERE campaign_id='rule:roam_gd' AND status <> 'control'"
                )
            )
        return {"decisions": decided, "contacted": contacts}

    def laws(self, args: dict[str, Any], out: Outcome) -> None:
        from tagcloud.realtime.bus import open_bus

        with open_bus(args["bus"]) as bus:
            if bus.pending():
                out.violations.append(f"{bus.pending()} events left on the bus")
            if bus.dead_letters():
                out.violations.append(f"{len(bus.dead_letters())} dead letters")
        _sms_laws(args, out, where="AND campaign_id LIKE 'rule:%'")


SCENARIOS: dict[str, type[Scenario]] = {
    "ingest": IngestScenario,
    "build": BuildScenario,
    "index": IndexScenario,
    "campaign": CampaignScenario,
    "realtime": RealtimeScenario,
}
