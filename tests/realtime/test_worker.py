from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tagcloud.campaigns.channels.smpp import SmppClient
from tagcloud.campaigns.channels.smsc import LocalSmsc, read_journal
from tagcloud.campaigns.policy import ContactLedger
from tagcloud.realtime.bus import SqliteBus
from tagcloud.realtime.events import Event, EventType, Lateness
from tagcloud.realtime.rulestore import RuleSequence, RuleStore
from tagcloud.realtime.worker import Outcome, Worker, decisions_summary, reconcile

from .helpers import DAY, NAMES, OWNER, activate, free_port, msisdn, roam, roam_rule, subscribers

NOON = DAY.replace(hour=12)


@pytest.fixture
def env(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    bus = SqliteBus(f"sqlite:///{tmp_path / 'events.db'}")
    ledger = ContactLedger(db_url)
    store = RuleStore(db_url, names=NAMES)
    yield bus, ledger, store
    bus.close()
    ledger.close()
    store.close()


def run(bus, ledger, store, events, smpp=None, **kw):  # type: ignore[no-untyped-def]
    bus.publish([e.to_json() if isinstance(e, Event) else e for e in events])
    # replaying a day: the event clock is the batch's median, so allow a day's spread ahead of it
    kw.setdefault("lateness", Lateness(max_future=dt.timedelta(hours=12)))
    w = Worker(bus, ledger, store, subscribers(), smpp=smpp, clock="event", **kw)
    w.run(idle_timeout=0.3, poll=0.05)
    return w


def outcomes(ledger: ContactLedger) -> dict[str, tuple[str, str | None]]:
    return {e: (o, r) for e, o, r in ledger.db.q("SELECT event_id, outcome, reason FROM rt_decisions")}


@pytest.mark.parametrize("sender_thread", [False, True], ids=["inline-sender", "sender-thread"])
def test_rule_matches_under_the_one_policy_and_counts_reconcile(
    env, tmp_path: Path, sender_thread: bool
) -> None:  # type: ignore[no-untyped-def]
    bus, ledger, store = env
    activate(store, roam_rule())
    ledger.set_do_not_disturb([msisdn(152)])
    ledger.set_holdings([(msisdn(153), "ROAM_PACK_30")])
    events = [
        roam(1, 123, NOON),  # arpu 123, no pack: contacted
        roam(2, 50, NOON),  # arpu 50: no match
        roam(3, 130, NOON, other=False),  # not another province: no match
        roam(4, 110, NOON),  # has_roaming_pack (110 % 10 == 0): no match
        roam(5, 152, NOON),  # DND
        roam(6, 153, NOON),  # already holds the offer
        roam(7, 121, DAY.replace(hour=22)),  # quiet hours: deferred to 08:00
        roam(8, 123, NOON + dt.timedelta(minutes=5)),  # the rule's cap per subscriber (1) is used
    ]
    bad = [
        b"{not json",
        json.dumps({"id": "x1", "type": "teleport", "msisdn": msisdn(1), "ts": NOON.isoformat()}).encode(),
        roam(9, 999_999, NOON).to_json(),  # no such subscriber
        roam(10, 1, NOON + dt.timedelta(days=30)).to_json(),  # far in the future
        json.dumps(
            {
                "id": "ev-1",
                "type": "top_up",
                "msisdn": msisdn(3),
                "ts": NOON.isoformat(),
                "attrs": {"amount": 5},
            }
        ).encode(),
    ]
    journal = tmp_path / "smsc.jsonl"
    with (
        LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01, journal=journal) as smsc,
        SmppClient("127.0.0.1", smsc.port, window=8, rate=2000) as c,
    ):
        w = run(bus, ledger, store, [*events, *bad], smpp=c, sender_thread=sender_thread)
    got = outcomes(ledger)
    assert got["ev-1"] == (Outcome.CONTACTED.value, None)
    assert got["ev-2"][0] == got["ev-3"][0] == got["ev-4"][0] == Outcome.NO_MATCH.value
    assert got["ev-5"] == (Outcome.BLOCKED.value, "do_not_disturb")
    assert got["ev-6"] == (Outcome.BLOCKED.value, "holds_offer")
    assert got["ev-7"][0] == Outcome.DEFERRED.value
    assert got["ev-8"][0] == Outcome.RULE_CAPPED.value
    reasons = sorted(d["reason"] for d in bus.dead_letters())
    assert reasons == ["duplicate_id", "in_future", "malformed", "unknown_subscriber", "unknown_type"]
    assert reconcile(ledger, bus) == {"decided": 8, "dead_lettered": 5, "received": 13}
    assert w.stats.received == 13 and w.stats.decided + w.stats.dead == 13
    # the SMS went out over SMPP, rendered with the event's fields; the deferred one has not yet
    sent = read_journal(journal)
    assert [m["to"] for m in sent] == [msisdn(123)]
    text = ledger.db.q("SELECT message FROM rt_decisions WHERE event_id='ev-1'")[0][0]
    assert "guangdong" in text and msisdn(123)[-4:] in text
    history = ledger.history(msisdn(123))
    assert history[0]["campaign_id"] == "rule:roam_gd" and history[0]["status"] in ("submitted", "delivered")
    assert bus.pending() == 0


def test_batch_and_real_time_share_the_cap(env) -> None:  # type: ignore[no-untyped-def]
    bus, ledger, store = env
    activate(store, roam_rule(cap_per_subscriber=5))
    sub = msisdn(141)
    # a batch campaign already took 3 SMS this month
    for k in range(3):
        ledger.reserve_list([f"CMP{k}"], [sub], ["X"], [1], "sms", NOON - dt.timedelta(days=k + 1))
    sent = [r[0] for r in ledger.db.q("SELECT contact_id FROM contacts WHERE msisdn=?", (sub,))]
    ledger.set_status([(c, "submitted", None) for c in sent], NOON)
    # … and a 4th, lower-priority batch contact waits unsent for another subscriber at the cap
    other = msisdn(143)
    for k in range(3):
        ledger.reserve_list([f"CMP{k}"], [other], ["X"], [1], "sms", NOON - dt.timedelta(days=k + 1))
    run(bus, ledger, store, [roam(1, 141, NOON), roam(2, 143, NOON)])
    got = outcomes(ledger)
    assert got["ev-1"] == (Outcome.BLOCKED.value, "capped")  # sent batch SMS hold the slots
    # the rule (priority 5) takes the slot of an unsent priority-1 batch contact, which is recorded
    assert got["ev-2"][0] == Outcome.CONTACTED.value
    assert (
        ledger.db.q("SELECT count(*) FROM contacts WHERE msisdn=? AND status='preempted'", (other,))[0][0]
        == 1
    )
    assert ledger.cap_violations() == []


def test_control_group_is_recorded_not_contacted(env) -> None:  # type: ignore[no-untyped-def]
    bus, ledger, store = env
    activate(store, roam_rule(control_share=0.5, cap_per_subscriber=1))
    events = [roam(i, 100 + i, NOON) for i in range(1, 90) if (100 + i) % 10]
    run(bus, ledger, store, events)
    s = decisions_summary(ledger)
    assert s.get("control", 0) > 10 and s.get("contacted", 0) > 10
    controls = ledger.db.q(
        "SELECT count(*) FROM contacts WHERE campaign_id='rule:roam_gd' AND status='control'"
    )[0][0]
    assert controls == s["control"]


def test_sequence_rule_waits_and_is_cancelled_by_the_follow_up(env) -> None:  # type: ignore[no-untyped-def]
    bus, ledger, store = env
    seq = RuleSequence(
        cancel_event="order", cancel_condition="event.product_type = 'data_pack'", within_minutes=120
    )
    activate(
        store,
        roam_rule(
            rule_id="q80",
            event_type="quota_80",
            condition="arpu_3m >= 50",
            sequence=seq,
            offer_id="DATA_PACK_10",
            script="80% used: data pack 10 yuan",
        ),
    )

    def q80(i: int, sub: int, at: dt.datetime) -> Event:
        return Event(f"q-{i}", EventType.QUOTA_80, msisdn(sub), at, {"quota_mb": 10240.0, "used_mb": 8192.0})

    def order(i: int, sub: int, at: dt.datetime, kind: str) -> Event:
        return Event(
            f"o-{i}",
            EventType.ORDER,
            msisdn(sub),
            at,
            {"product_id": "P", "product_type": kind, "action": "subscribe"},
        )

    t = DAY.replace(hour=9)
    events = [
        q80(1, 60, t),  # no order: fires after 2 h
        q80(2, 61, t),
        order(2, 61, t + dt.timedelta(minutes=30), "data_pack"),  # bought a pack: cancelled
        q80(3, 62, t),
        order(3, 62, t + dt.timedelta(minutes=30), "membership"),  # not a data pack: still fires
        # later traffic moves the event clock past the timers
        roam(99, 1, t + dt.timedelta(hours=3), other=False),
    ]
    w = run(bus, ledger, store, events)
    got = outcomes(ledger)
    assert got["q-1"][0] == Outcome.CONTACTED.value
    assert got["q-2"][0] == Outcome.SEQUENCE_CANCELLED.value
    assert got["q-3"][0] == Outcome.CONTACTED.value
    assert w.stats.timers_fired == 2
    at = ledger.db.q("SELECT contact_at FROM contacts WHERE msisdn=?", (msisdn(60),))[0][0]
    assert at == int((t + dt.timedelta(hours=2) - dt.datetime(1970, 1, 1)).total_seconds())


def test_rules_reload_without_restart(env) -> None:  # type: ignore[no-untyped-def]
    bus, ledger, store = env
    w = Worker(bus, ledger, store, subscribers(), clock="event")
    bus.publish([roam(1, 123, NOON).to_json()])
    w.run(idle_timeout=0.2, poll=0.05)
    assert outcomes(ledger)["ev-1"][0] == Outcome.NO_MATCH.value
    activate(store, roam_rule())
    bus.publish([roam(2, 122, NOON).to_json()])
    w.run(idle_timeout=0.2, poll=0.05)
    assert outcomes(ledger)["ev-2"][0] == Outcome.CONTACTED.value
    store.pause("roam_gd", OWNER)
    bus.publish([roam(3, 124, NOON).to_json()])
    w.run(idle_timeout=0.2, poll=0.05)
    assert outcomes(ledger)["ev-3"][0] == Outcome.NO_MATCH.value
    assert w.stats.rule_reloads == 3


def test_batch_lists_and_the_worker_racing_never_exceed_the_cap(env, db_url: str) -> None:  # type: ignore[no-untyped-def]
    import threading

    bus, ledger, store = env
    activate(store, roam_rule(cap_per_subscriber=5, priority=1))
    subs = [s for s in range(100, 200) if s % 10]
    events = [roam(k * 1000 + s, s, NOON + dt.timedelta(minutes=k)) for k in range(4) for s in subs]
    bus.publish([e.to_json() for e in events])
    errors: list[BaseException] = []

    def batch() -> None:
        try:
            with ContactLedger(db_url) as other:
                for k in range(4):
                    ms = [msisdn(s) for s in subs]
                    other.reserve_list([f"CMP{k}"] * len(ms), ms, ["X"] * len(ms), [1] * len(ms), "sms", NOON)
        except BaseException as e:  # surfaced below
            errors.append(e)

    t = threading.Thread(target=batch)
    w = Worker(
        bus,
        ledger,
        store,
        subscribers(),
        clock="event",
        batch=20,
        lateness=Lateness(max_future=dt.timedelta(hours=12)),
    )
    t.start()
    w.run(idle_timeout=0.3, poll=0.02)
    t.join()
    assert not errors
    assert ledger.cap_violations() == []
    held = ledger.db.q(
        "SELECT msisdn, count(*) FROM contacts WHERE channel='sms' AND status='reserved' GROUP BY 1 ORDER BY 2 DESC"
    )
    assert held and held[0][1] == 3  # every subscriber at the cap, none over it
    assert w.stats.outcomes.get("contacted", 0) + w.stats.outcomes.get("blocked", 0) > 0
