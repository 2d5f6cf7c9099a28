"""The closed loop on the demo province, end to end, without the web server:

a county marketer designs a campaign (two tiered sub-campaigns, SMS then an outbound-call wave for
non-responders, 10% control); a city approver returns it once, then approves it; it executes over
SMPP against the local SMSC; the simulated subscribers answer from their latent propensities; the
evaluation compares action with control. It also prints the targeting figure: the same offer to a
tag-targeted group against a random group of the same size.

Organic orders (what control members do without being contacted) are asked from the simulator too:
an unprompted offer at the service hall, ``GroundTruth.accepts(..., "hall")``, within the window.
"""

from __future__ import annotations

import csv
import datetime as dt
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
from tagcloud.campaigns.evaluate import CampaignReport, evaluate
from tagcloud.campaigns.execute import Target, import_call_results, run_due, target_from_audience
from tagcloud.campaigns.policy import Channel, ContactLedger
from tagcloud.campaigns.responses import TargetingLift, simulate_responses, targeting_lift
from tagcloud.campaigns.workflow import Actor, ApprovalPolicy, CampaignStore

SCRIPTS = {
    "sms": "同学你好(尾号{msisdn_tail})：校园套餐每月流量40GB，回复KT办理。",
    "outbound": "您好，我是10086校园客户经理，为您推荐校园专属套餐……",
}


@dataclass
class DemoResult:
    targeting: TargetingLift
    report: CampaignReport
    approvals: list[dict[str, Any]]
    sms_submitted: int
    calls: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_demo(
    sim_dir: Path,
    warehouse: Path,
    workdir: Path,
    start: dt.datetime = dt.datetime(2026, 11, 2, 10, 0),
    target_tag: str = "campus_student",
    offers: tuple[str, str] = ("PL_5G128", "FM_CAMPUS"),
    seed: int = 0,
) -> DemoResult:
    """Run the whole loop; ``sim_dir`` is a simulator export and ``warehouse`` its indexed warehouse."""
    import duckdb
    import pyarrow as pa

    from tagcloud.audience.query import AudienceEngine
    from tagcloud.campaigns.channels.smsc import LocalSmsc
    from tagcloud.sim.truth import GroundTruth

    truth = GroundTruth.load(sim_dir)
    engine = AudienceEngine.open(warehouse, can_unmask=True)
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / 'campaigns.db'}"

    # the targeting figure: the tag-targeted group against a random group of the same size
    ids = np.frombuffer(engine.members(target_tag).to_array(), dtype=np.uint32)
    targeted = (
        np.asarray(engine.index.dictionary.msisdn_by_id[ids]).astype(np.int64).astype(str).astype(object)
    )
    population = np.array(truth.subscribers.column("msisdn").to_pylist(), dtype=object)
    lift = targeting_lift(truth, targeted, population, offers[1], "sms", seed=seed)

    design = CampaignDesign(
        campaign_id=f"DEMO{start:%Y%m%d}",
        name="校园迎新: 5G套餐 / 校园套餐",
        region_id="P",
        region_level="county",
        target=target_tag,
        sub_campaigns=[
            SubCampaign(name="arpu_high", offer_id=offers[0], condition="arpu_3m >= 80", scripts=SCRIPTS),
            SubCampaign(name="arpu_rest", offer_id=offers[1], scripts=SCRIPTS),
        ],
        waves=[Wave(channel=Channel.SMS), Wave(channel=Channel.OUTBOUND, after_days=3)],
        start=start,
        priority=5,
        control_share=0.05,  # changed to 10% after the city approver's return
        capacity={"outbound": 2000},
    )
    marketer = Actor("county.marketer", "county", "P")
    city = Actor("city.approver", "city", "P", can_approve=True)
    with CampaignStore(url, ApprovalPolicy(chains={"county": ("city",)})) as store:
        store.create(design, marketer)
        store.submit(design.campaign_id, marketer)
        store.return_(design.campaign_id, city, "control group must be 10% for a clean evaluation")
        design = design.model_copy(update={"control_share": 0.10})
        store.edit(design, marketer, note="control 10%")
        store.submit(design.campaign_id, marketer)
        store.approve(design.campaign_id, city, "ok")
        store.start(design.campaign_id)
        approvals = store.approvals(design.campaign_id)
        design = store.design(design.campaign_id)

    snapshots = workdir / "targets"
    with ContactLedger(url) as ledger, LocalSmsc(port=_free_port(), rate=2000, receipt_delay=0.01) as smsc:
        target = target_from_audience(engine, design)
        out = run_due(ledger, design, target, snapshots, start, smsc=("127.0.0.1", smsc.port))
        sms = sum(r.submitted for r in out.sms.values())
        import time

        time.sleep(0.5)  # the last receipts
        simulate_responses(ledger, design, truth, 0, seed=seed)
        day3 = design.wave_time(1)
        out = run_due(ledger, design, target, snapshots, day3, call_dir=workdir / "calls")
        calls = 0
        for path, n in out.call_lists.values():
            calls += n
            _answer_calls(truth, path, workdir / f"{path.stem}.results.csv", day3, seed)
            import_call_results(ledger, workdir / f"{path.stem}.results.csv", day3)
        target = Target.load(snapshots / f"{design.campaign_id}.target.parquet")
        from tagcloud.data.warehouse import Warehouse

        con = Warehouse(warehouse).connect() if (warehouse / "tables").exists() else duckdb.connect()
        offer = {s.name: s.offer_id for s in design.sub_campaigns}
        orders = []
        for name, o in offer.items():
            ms = target.msisdn[target.sub_campaign == name]
            took = ms[truth.accepts(ms, o, "hall", seed=seed + 99)]
            orders += [(str(m), o, "subscribe", start + dt.timedelta(days=5)) for m in took]
        con.register(
            "organic",
            pa.table(
                {
                    "msisdn": pa.array([r[0] for r in orders], pa.string()),
                    "product_id": pa.array([r[1] for r in orders], pa.string()),
                    "action": pa.array([r[2] for r in orders], pa.string()),
                    "order_time": pa.array([r[3] for r in orders], pa.timestamp("us")),
                }
            ),
        )
        if "orders" in {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }:
            con.execute(
                "CREATE TEMP TABLE demo_orders AS SELECT msisdn, product_id, action, order_time FROM orders "
                "UNION ALL SELECT * FROM organic"
            )
        else:
            con.execute("CREATE TEMP TABLE demo_orders AS SELECT * FROM organic")
        report = evaluate(ledger, design, target, con, orders="demo_orders")
    return DemoResult(lift, report, approvals, sms, calls)


def _answer_calls(truth: Any, calls: Path, results: Path, at: dt.datetime, seed: int) -> None:
    """The call centre's results: the simulator decides who accepts; the rest refuse or miss the call."""
    with calls.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    ms = np.array([r["msisdn"] for r in rows], dtype=object)
    result = np.full(len(rows), "refused", dtype=object)
    result[np.arange(len(rows)) % 3 == 2] = "no_answer"  # a third of calls are not answered
    for o in {r["offer_id"] for r in rows}:
        sel = np.flatnonzero(np.array([r["offer_id"] == o for r in rows]) & (result != "no_answer"))
        result[sel[truth.accepts(ms[sel], o, "outbound", seed=seed + 1)]] = "accepted"
    with results.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["contact_id", "result", "called_at"])
        for r, res in zip(rows, result, strict=True):
            w.writerow([r["contact_id"], res, at.isoformat(sep=" ")])
