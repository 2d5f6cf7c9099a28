"""Benchmark: campaign list generation under the full contact policy, reservations per second on
SQLite and PostgreSQL, and SMS per second to the local SMSC over SMPP.

Baselines measured in the same run:
- list generation (set-based ``reserve_list``) against one ``reserve`` call per subscriber;
- reservations with 2 threads against 1 thread on the same backend;
- SMS through the ledger (claim → submit → status) against the bare SMPP client.

    uv run python bench/campaign.py            # 1M-subscriber target
    uv run python bench/campaign.py --quick    # 20k (run by tests/bench/test_bench_quick.py)
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tagcloud.campaigns.channels.smpp import SmppClient
from tagcloud.campaigns.channels.smsc import LocalSmsc
from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
from tagcloud.campaigns.execute import launch, plan_wave, run_sms_wave, split_target
from tagcloud.campaigns.policy import ContactLedger, ContactRequest

PG = "postgresql://postgres@127.0.0.1:5432/test"
START = dt.datetime(2026, 11, 10, 10, 0)


@dataclass
class Result:
    target: int
    list_seconds: dict[str, float] = field(default_factory=dict)  # backend → seconds for the whole list
    list_decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    single_rate: dict[str, float] = field(default_factory=dict)  # backend → reserve() per second, 1 thread
    threaded_rate: dict[str, float] = field(default_factory=dict)  # backend → reserve() per second, 2 threads
    sms_rate: float = 0.0
    sms_raw_rate: float = 0.0
    sms_sent: int = 0
    violations: int = 0


def design(n_tiers: int = 2) -> CampaignDesign:
    scripts = {"sms": "尊敬的客户(尾号{msisdn_tail})：5G畅享包每月30元含30GB，回复KT办理。"}
    return CampaignDesign(
        campaign_id=f"BENCH{uuid.uuid4().hex[:6]}",
        name="bench",
        region_id="C01",
        region_level="city",
        target="arpu >= 0",
        sub_campaigns=[
            SubCampaign(name=f"tier{i}", offer_id=f"OFFER{i}", scripts=scripts) for i in range(n_tiers)
        ],
        waves=[Wave(channel="sms")],
        start=START,
        priority=2,
        control_share=0.1,
    )


def _pg_ok() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG, connect_timeout=3) as c:
            c.execute("SELECT 1")
        return True
    except Exception:
        return False


def _seed_policy(led: ContactLedger, numbers: np.ndarray) -> None:
    """Realistic lists: 1% do-not-disturb, 0.5% complaint-sensitive, 2% hold the offer, 30% already
    have 1-3 marketing SMS this month from earlier campaigns."""
    ms = numbers.astype(str)
    led.set_do_not_disturb(ms[::100].tolist())
    led.set_complaint_sensitive(ms[1::200].tolist())
    led.set_holdings([(m, "OFFER0") for m in ms[2::50].tolist()])
    earlier = ms[3::3]
    for k in range(3):
        sub = earlier[k::3] if k else earlier
        led.reserve_list(
            [f"EARLIER{k}"] * len(sub),
            sub.tolist(),
            [None] * len(sub),
            [1] * len(sub),
            "sms",
            START - dt.timedelta(days=5),
        )


def bench_list(url: str, n: int, tmp: Path) -> tuple[float, dict[str, int], int]:
    numbers = np.array([f"139{i:08d}" for i in range(n)], dtype=object)
    rng = np.random.default_rng(3)
    with ContactLedger(url) as led:
        _seed_policy(led, numbers)
        d = design()
        tiers = np.where(rng.random(n) < 0.4, "tier0", "tier1").astype(object)
        t0 = time.perf_counter()
        target = split_target(d, numbers, tiers)
        launch(led, d, target, tmp / d.campaign_id)
        got = plan_wave(led, d, target, 0)
        secs = time.perf_counter() - t0
        return secs, got, len(led.cap_violations())


def bench_single(url: str, n: int, threads: int) -> float:
    def work(k: int) -> None:
        with ContactLedger(url) as led:
            for i in range(n):
                led.reserve(
                    ContactRequest(f"S{k}_{i % 7}", f"136{k:02d}{i:06d}", "sms", START, "OFFER0", i % 4)
                )

    ContactLedger(url).close()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return n * threads / (time.perf_counter() - t0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_sms(n: int, tmp: Path) -> tuple[float, float, int]:
    with LocalSmsc(port=_free_port(), rate=1e9, receipt_delay=0.0) as smsc:
        with SmppClient("127.0.0.1", smsc.port, window=32, rate=1e9) as c:
            t0 = time.perf_counter()
            c.submit_many([(i, f"135{i:08d}", "hello") for i in range(n)])
            raw = n / (time.perf_counter() - t0)
        d = design(1).model_copy(update={"control_share": 0.0})
        numbers = np.array([f"133{i:08d}" for i in range(n)], dtype=object)
        with ContactLedger(f"sqlite:///{tmp / 'sms.db'}") as led:
            target = split_target(d, numbers, np.full(n, "tier0", dtype=object))
            launch(led, d, target, tmp)
            plan_wave(led, d, target, 0)
            with SmppClient("127.0.0.1", smsc.port, window=32, rate=1e9) as c:
                t0 = time.perf_counter()
                run = run_sms_wave(led, d, c, 0, START)
                rate = run.submitted / (time.perf_counter() - t0)
        return rate, raw, run.submitted


def main(argv: list[str] | None = None) -> Result:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--target", type=int, default=None, help="target size (default 1,000,000; quick 20,000)")
    args = ap.parse_args(argv)
    n = args.target or (20_000 if args.quick else 1_000_000)
    singles = 300 if args.quick else 3_000
    sms = 1_000 if args.quick else 20_000
    r = Result(target=n)
    backends = {"sqlite": None, "postgresql": PG if _pg_ok() else None}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # warm up: the first Parquet write imports pyarrow's pandas layer (seconds), not part of a timing
        split_target(
            design(1), np.array(["13900000000"], dtype=object), np.array(["tier0"], dtype=object)
        ).save(tmp / "w.parquet")
        for name in backends:
            if name == "sqlite":
                url = f"sqlite:///{tmp / 'bench.db'}"
            elif backends[name]:
                url = f"{PG}?schema=bench_{uuid.uuid4().hex[:8]}"
            else:
                print("postgresql: not reachable at 127.0.0.1:5432, skipped", file=sys.stderr)
                continue
            secs, got, bad = bench_list(url, n, tmp)
            r.list_seconds[name], r.list_decisions[name] = secs, got
            r.violations += bad
            single_url = (
                f"sqlite:///{tmp / 'single.db'}"
                if name == "sqlite"
                else f"{PG}?schema=bench_{uuid.uuid4().hex[:8]}"
            )
            r.single_rate[name] = bench_single(single_url, singles, 1)
            r.threaded_rate[name] = (
                bench_single(single_url.replace("single", "single2"), singles // 2, 2)
                if name == "sqlite"
                else bench_single(f"{PG}?schema=bench_{uuid.uuid4().hex[:8]}", singles // 2, 2)
            )
            if name == "postgresql":
                _drop_bench_schemas()
        r.sms_rate, r.sms_raw_rate, r.sms_sent = bench_sms(sms, tmp)
    report(r)
    return r


def _drop_bench_schemas() -> None:
    import psycopg

    with psycopg.connect(PG, autocommit=True) as c:
        for (s,) in c.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'").fetchall():
            c.execute(f'DROP SCHEMA "{s}" CASCADE')


def report(r: Result) -> None:
    print(f"campaign list generation, full policy, target {r.target:,} subscribers (10% control):")
    for name, secs in r.list_seconds.items():
        single = r.single_rate[name]
        rate = r.target / secs
        print(
            f"  {name:10s} {secs:7.1f} s  ({rate:,.0f} subscribers/s; {rate / single:,.0f}× one reserve() per subscriber)"
            f"  decisions {r.list_decisions[name]}"
        )
    print("contact reservations (reserve(), one transaction each):")
    for name, rate in r.single_rate.items():
        print(
            f"  {name:10s} 1 thread {rate:,.0f}/s   2 threads {r.threaded_rate[name]:,.0f}/s ({r.threaded_rate[name] / rate:.2f}×)"
        )
    print(
        f"SMS to the local SMSC: {r.sms_sent:,} through the ledger at {r.sms_rate:,.0f}/s; "
        f"bare SMPP client {r.sms_raw_rate:,.0f}/s ({r.sms_rate / r.sms_raw_rate:.2f}×)"
    )
    print(f"cap violations after all runs: {r.violations}")


if __name__ == "__main__":
    main()
