"""Concurrency: N processes × M threads reserving campaign lists (``ContactLedger.reserve_list``),
single contacts (``reserve``), real-time micro-batches (``reserve_many``) and recording touchpoint
feedback, while a real event worker (``realtime.worker.Worker``) decides roaming events — all on one
small subscriber set, on SQLite and on PostgreSQL.

Laws: 0 contact-cap violations (``ContactLedger.cap_violations``), and 0 lost contact records: every
attempt is either a reservation (a row in ``contacts``) or a recorded refusal (a row in
``exclusions`` that is not a preempted reservation's), attempts = granted + refused, with the
counts the callers saw equal to the rows in the ledger; every feedback given is a row in
``responses``."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from tagcloud.campaigns.execute import touchpoint_feedback
from tagcloud.campaigns.policy import SLOT_DECISIONS, ContactLedger, ContactRequest, Decision
from tagcloud.realtime.bus import SqliteBus
from tagcloud.realtime.events import Lateness
from tagcloud.realtime.rulestore import RuleStore
from tagcloud.realtime.worker import Outcome, Worker
from tests.realtime.conftest import db_url  # noqa: F401  (SQLite and PostgreSQL, skipped with a reason)
from tests.realtime.helpers import NAMES, activate, msisdn, roam, roam_rule, subscribers

pytestmark = pytest.mark.slow

# One subscriber set for everyone: subscribers the roaming rule matches (arpu >= 100, no pack).
SUBS = [msisdn(s) for s in range(101, 114) if s % 10]
MONTH = dt.datetime(2026, 11, 1)
OFFERS = ["P1", "P2", "P3"]
PROCS, THREADS, OPS = 3, 3, 40


def _tally(out: dict[str, int], decision: str, n: int = 1) -> None:
    key = "granted" if decision in {d.value for d in SLOT_DECISIONS} else "refused"
    if decision == Decision.ALREADY:
        key = "already"  # never expected: every attempt has a key of its own
    out[key] = out.get(key, 0) + n


def _hammer(url: str, seed: int, n: int, results: Any) -> None:
    """Lists, singles, real-time micro-batches and feedback, mixed at random; reports its counts."""
    rnd = random.Random(seed)
    out = {"attempts": 0, "granted": 0, "refused": 0, "feedback": 0}
    mine: list[int] = []  # contact ids this caller was granted (for feedback)
    try:
        with ContactLedger(url) as led:
            for i in range(n):
                at = MONTH + dt.timedelta(hours=rnd.randrange(9, 24 * 25))
                ch = rnd.choice(["sms", "sms", "sms", "outbound", "hall"])
                offer = rnd.choice(OFFERS)
                op = rnd.random()
                if op < 0.2:  # a campaign list: one campaign, several subscribers, set-based
                    ms = rnd.sample(SUBS, 5)
                    counts = led.reserve_list(
                        [f"L{seed}_{i}"] * 5, ms, [offer] * 5, [rnd.randrange(5)] * 5, ch, at
                    )
                    out["attempts"] += 5
                    for decision, k in counts.items():
                        _tally(out, decision, k)
                elif op < 0.5:  # a real-time micro-batch, one transaction
                    reqs = [
                        ContactRequest(
                            f"rule:h{seed}",
                            rnd.choice(SUBS),
                            "sms",
                            at,
                            offer,
                            rnd.randrange(5),
                            wave=i * 10 + j,
                        )
                        for j in range(4)
                    ]
                    for r in led.reserve_many(reqs):
                        out["attempts"] += 1
                        _tally(out, r.decision)
                        if r.contact_id is not None and r.decision in SLOT_DECISIONS:
                            mine.append(r.contact_id)
                elif op < 0.85 or not mine:  # one contact (a campaign wave's, or a touchpoint's)
                    r = led.reserve(
                        ContactRequest(f"S{seed}_{i}", rnd.choice(SUBS), ch, at, offer, rnd.randrange(5))
                    )
                    out["attempts"] += 1
                    _tally(out, r.decision)
                    if r.contact_id is not None and r.decision in SLOT_DECISIONS:
                        mine.append(r.contact_id)
                else:  # an agent's feedback on one of the offers shown
                    outcome = rnd.choice(["considering", "refused", "accepted"])
                    touchpoint_feedback(led, rnd.choice(mine), "hall", outcome, at)
                    out["feedback"] += 1
    except BaseException as e:  # reported to the test, not swallowed
        out["error"] = f"{type(e).__name__}: {e}"  # type: ignore[assignment]
    results.put(out)


def _events_worker(url: str, bus_path: Path, out: dict[str, Any]) -> None:
    """The real event worker over roaming events for the same subscribers, small micro-batches."""
    try:
        bus = SqliteBus(f"sqlite:///{bus_path}")
        with ContactLedger(url) as ledger, RuleStore(url, names=NAMES) as store:
            w = Worker(
                bus,
                ledger,
                store,
                subscribers(),
                clock="event",
                batch=6,
                lateness=Lateness(max_future=dt.timedelta(days=30)),
            )
            w.run(idle_timeout=1.0, poll=0.02)
            out["stats"] = dict(w.stats.outcomes)
        bus.close()
    except BaseException as e:
        out["error"] = f"{type(e).__name__}: {e}"


def _ledger_rows(url: str) -> dict[str, int]:
    with ContactLedger(url) as led:
        q = led.db.q
        contacts = int(q("SELECT count(*) FROM contacts")[0][0])
        # a preempted reservation stays in contacts and gets an exclusion of the same key: not a refusal
        refused = int(
            q(
                "SELECT count(*) FROM exclusions x WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE "
                "c.campaign_id = x.campaign_id AND c.wave = x.wave AND c.msisdn = x.msisdn AND c.channel = x.channel)"
            )[0][0]
        )
        preempted = int(q("SELECT count(*) FROM contacts WHERE status = 'preempted'")[0][0])
        responses = int(q("SELECT count(*) FROM responses")[0][0])
        rt = {o: int(k) for o, k in q("SELECT outcome, count(*) FROM rt_decisions GROUP BY outcome")}
        return {
            "contacts": contacts,
            "refused": refused,
            "preempted": preempted,
            "responses": responses,
            "violations": len(led.cap_violations()),
            "rt_contacted": rt.get(Outcome.CONTACTED, 0) + rt.get(Outcome.DEFERRED, 0),
            "rt_blocked": rt.get(Outcome.BLOCKED, 0),
            "rt_decided": sum(rt.values()),
        }


def test_cap_and_records_hold_under_processes_threads_and_the_event_worker(
    db_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = db_url
    # Schema and one active roaming rule (cap 5 fires a subscriber) before anyone starts.
    ContactLedger(url).close()
    with RuleStore(url, names=NAMES) as store:
        activate(store, roam_rule(cap_per_subscriber=5, priority=2))
    bus_path = tmp_path / "events.db"
    bus = SqliteBus(f"sqlite:///{bus_path}")
    subs = [int(m[-4:]) for m in SUBS]
    events = [roam(k * 1000 + s, s, MONTH + dt.timedelta(days=k, hours=12)) for k in range(6) for s in subs]
    bus.publish([e.to_json() for e in events])
    bus.close()

    ctx = mp.get_context("fork")
    results: Any = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(url, 1000 + k, OPS, results)) for k in range(PROCS)]
    threads = [threading.Thread(target=_hammer, args=(url, k, OPS, results)) for k in range(THREADS)]
    rt: dict[str, Any] = {}
    worker = threading.Thread(target=_events_worker, args=(url, bus_path, rt))
    for x in [*procs, *threads, worker]:
        x.start()
    got = [results.get(timeout=600) for _ in range(PROCS + THREADS)]
    for t in [*threads, worker]:
        t.join()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0, "a hammer process failed"
    errors = [g["error"] for g in got if "error" in g] + ([rt["error"]] if "error" in rt else [])
    assert not errors, errors

    attempts = sum(g["attempts"] for g in got)
    granted = sum(g["granted"] for g in got)
    refused = sum(g["refused"] for g in got)
    feedback = sum(g["feedback"] for g in got)
    assert sum(g.get("already", 0) for g in got) == 0
    stats = rt["stats"]
    rt_granted = stats.get(Outcome.CONTACTED, 0) + stats.get(Outcome.DEFERRED, 0)
    rt_refused = stats.get(Outcome.BLOCKED, 0)
    rows = _ledger_rows(url)
    print(
        f"\n{url.split(':')[0]}: {PROCS} processes × {THREADS} threads × {OPS} operations + the event "
        f"worker on {len(SUBS)} subscribers: attempts {attempts + rt_granted + rt_refused} "
        f"(callers {attempts}, event worker {rt_granted + rt_refused} of {len(events)} events), "
        f"granted {granted + rt_granted}, refused {refused + rt_refused}, preempted later {rows['preempted']}, "
        f"feedback {feedback}, cap violations {rows['violations']}"
    )
    assert rows["violations"] == 0
    assert attempts == granted + refused
    # nothing lost: what the callers were told is exactly what the ledger holds
    assert rows["contacts"] == granted + rt_granted
    assert rows["refused"] == refused + rt_refused
    assert rows["responses"] == feedback
    # the event worker decided every event, and what it decided is what it stored
    assert rows["rt_decided"] == len(events)
    assert (rows["rt_contacted"], rows["rt_blocked"]) == (rt_granted, rt_refused)
    # demand far above the caps: both answers really happened, and SMS slots filled to the cap
    assert granted > 0 and refused > 0 and rt_granted + rt_refused > 0
    with ContactLedger(url) as led:
        held = led.db.q(
            "SELECT msisdn, count(*) FROM contacts WHERE channel='sms' AND status IN ('reserved', 'delivered') "
            "GROUP BY msisdn"
        )
    assert held and max(n for _, n in held) <= 3
