from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from tagcloud.campaigns.channels.smpp import SmppClient
from tagcloud.campaigns.channels.smsc import LocalSmsc
from tagcloud.campaigns.policy import ContactLedger
from tagcloud.realtime.bus import SqliteBus
from tagcloud.realtime.engine import SubscriberTable
from tagcloud.realtime.evaluate import backtest, evaluate_rule, format_report
from tagcloud.realtime.events import EventType, Lateness
from tagcloud.realtime.responses import simulate_responses
from tagcloud.realtime.rulestore import RuleDesign, RuleStore
from tagcloud.realtime.worker import Worker
from tagcloud.sim.events import simulate_events
from tagcloud.sim.truth import GroundTruth
from tagcloud.tags.condition import NameInfo, NameKind

from .helpers import activate, free_port

NAMES = {
    "arpu": NameInfo("arpu", NameKind.NUMBER),
    "brand": NameInfo("brand", NameKind.ENUM, ("gotone", "mzone", "easyown")),
}


def export_subscribers(export: Path) -> SubscriberTable:
    """Operator data of the export (not its ground truth): brand, and ARPU averaged over its bills."""
    con = duckdb.connect()
    t = con.sql(
        f"SELECT s.msisdn, s.brand, b.arpu FROM read_parquet('{export}/subscribers/*.parquet') s "
        f"LEFT JOIN (SELECT msisdn, avg(arpu)::DOUBLE AS arpu FROM read_parquet('{export}/billing_monthly/**/*.parquet') "
        "GROUP BY 1) b USING (msisdn)"
    ).to_arrow_table()
    return SubscriberTable.from_arrow(t, NAMES)


def quota_rule(**kw: object) -> RuleDesign:
    base: dict[str, object] = {
        "rule_id": "quota_pack",
        "name": "Quota 80%: 10 GB pack",
        "event_type": "quota_80",
        "condition": "arpu >= 30",
        "offer_id": "DP_10G",
        "script": "You have used 80% of {quota_mb} MB: 10 GB for 20 yuan, reply Y",
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2026, 12, 31),
        "region_id": "44",
        "region_level": "province",
        "control_share": 0.3,
    }
    base.update(kw)
    return RuleDesign.model_validate(base)


def test_backtest_counts_what_the_rule_would_have_fired(small_province: Path) -> None:
    truth = GroundTruth.load(small_province)
    subs = export_subscribers(small_province)
    stream = simulate_events(truth, dt.date(2026, 9, 16), seed=1)
    design = quota_rule(window_start=dt.time(8), window_end=dt.time(20))
    bt = backtest(design, stream.events, subs)
    arpu = dict(zip(subs.msisdn.tolist(), subs.columns["arpu"][0].tolist(), strict=True))
    want = [
        e
        for e in stream.events
        if e.type == EventType.QUOTA_80 and arpu.get(int(e.msisdn), 0) >= 30 and 8 <= e.ts.hour < 20
    ]
    assert bt.fired == len(want) > 0
    assert bt.subscribers == len({e.msisdn for e in want})
    per_sub = collections.Counter(e.msisdn for e in want)
    assert bt.fired_capped == sum(min(c, 1) for c in per_sub.values())
    assert sum(bt.by_hour) == bt.fired and bt.by_hour[3] == 0
    assert "would have fired" in bt.sentence()


@pytest.mark.slow
def test_rule_report_like_a_campaign(small_province: Path, tmp_path: Path) -> None:
    truth = GroundTruth.load(small_province)
    subs = export_subscribers(small_province)
    stream = simulate_events(truth, dt.date(2026, 9, 16), seed=1, scale=3.0)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    design = quota_rule()
    with (
        SqliteBus(f"sqlite:///{tmp_path / 'events.db'}") as bus,
        ContactLedger(url) as ledger,
        RuleStore(url, names=NAMES) as store,
        LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01) as smsc,
        SmppClient("127.0.0.1", smsc.port, window=8, rate=3000) as smpp,
    ):
        activate(store, design)
        bus.publish([e.to_json() for e in stream.events])
        w = Worker(
            bus,
            ledger,
            store,
            subs,
            smpp=smpp,
            clock="event",
            lateness=Lateness(max_future=dt.timedelta(hours=24)),
        )
        w.run(idle_timeout=0.5, poll=0.05)
        accepted, orders = simulate_responses(ledger, design, truth, stream, seed=1)
        con = duckdb.connect()
        con.register("orders", orders)
        r = evaluate_rule(ledger, design, con=con)
        fired_subs = ledger.db.q(
            "SELECT count(DISTINCT msisdn) FROM rt_decisions WHERE rule_id='quota_pack' AND outcome IN "
            "('contacted', 'deferred', 'blocked', 'control')"
        )[0][0]
    assert r.overall.action_n + r.overall.control_n == fired_subs > 50
    assert r.overall.control_n > 0 and r.accepted == accepted
    assert r.outcomes.get("contacted", 0) > 0 and r.outcomes.get("control", 0) > 0
    # successes: every accepted response plus the organic orders, each subscriber once
    organic = set(orders.column("msisdn").to_pylist())
    assert r.overall.action_successes + r.overall.control_successes >= len(organic)
    assert r.contacts.get("control", 0) == r.outcomes["control"]
    assert r.worker_ms and r.event_to_contact_s
    text = format_report(r)
    assert "lift" in text and "p =" in text


def test_success_counts_accepted_responses_and_orders_in_the_window(tmp_path: Path, db_url: str) -> None:
    import pyarrow as pa

    from tagcloud.realtime.worker import create_tables

    design = quota_rule()
    with ContactLedger(db_url) as ledger:
        create_tables(ledger)
        t0 = int((dt.datetime(2026, 9, 16, 12) - dt.datetime(1970, 1, 1)).total_seconds())
        rows = [(f"e{i}", f"1380000{i:04d}", "control" if i < 4 else "contacted") for i in range(10)]
        ledger.db.many(
            "INSERT INTO rt_decisions (event_id, fingerprint, event_type, msisdn, event_at, rule_id, rule_version, "
            "outcome, received_ms, decided_ms) VALUES (?, 'f', 'quota_80', ?, ?, 'quota_pack', 1, ?, 0, 0)",
            [(e, m, t0, o) for e, m, o in rows],
        )
        at = dt.datetime(2026, 9, 16, 13)
        for m in ("13800000004", "13800000005"):  # two of the action group accept the SMS
            ledger.record_response(m, "DP_10G", "sms", "accepted", at, design.campaign_id)
        ledger.record_response(
            "13800000006", "DP_10G", "sms", "accepted", at + dt.timedelta(days=30), design.campaign_id
        )
        con = duckdb.connect()
        con.register(
            "orders",
            pa.table(
                {
                    "msisdn": ["13800000000", "13800000001", "13800000007"],
                    "product_id": ["DP_10G", "MB_TXV", "DP_10G"],
                    "action": ["subscribe"] * 3,
                    "order_time": [at, at, dt.datetime(2026, 9, 10)],  # wrong product; before the event
                }
            ),
        )
        r = evaluate_rule(ledger, design, con=con)
    assert (r.overall.action_n, r.overall.action_successes) == (
        6,
        2,
    )  # the late acceptance is outside 14 days
    assert (r.overall.control_n, r.overall.control_successes) == (4, 1)
