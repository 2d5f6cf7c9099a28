"""The contact policy and its ledger, on every backend: rules, priority, atomicity under concurrency."""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing as mp
import random
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagcloud.campaigns.backends import LedgerUrlError
from tagcloud.campaigns.policy import (
    Cap,
    ContactKind,
    ContactLedger,
    ContactPolicy,
    ContactRequest,
    ContactStatus,
    Decision,
    Period,
)

NOON = dt.datetime(2026, 11, 10, 12, 0)


def req(campaign: str, msisdn: str, **kw: object) -> ContactRequest:
    base: dict[str, object] = {"channel": "sms", "at": NOON, "offer_id": "5G_PACK_30", "priority": 0}
    base.update(kw)
    return ContactRequest(campaign, msisdn, **base)  # type: ignore[arg-type]


def test_cap_of_three_sms_a_calendar_month(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        got = [
            led.reserve(req(f"C{i}", "13800000001", at=NOON + dt.timedelta(days=i))).decision
            for i in range(5)
        ]
        assert got == [Decision.RESERVED] * 3 + [Decision.CAPPED] * 2
        # a new calendar month opens new slots
        assert (
            led.reserve(req("C9", "13800000001", at=dt.datetime(2026, 12, 1, 9))).decision
            == Decision.RESERVED
        )
        # another channel has its own (here: no) cap
        assert led.reserve(req("C0", "13800000001", channel="outbound")).decision == Decision.RESERVED
        # the loser is recorded with the campaign that holds the slots
        rows = led.db.q("SELECT campaign_id, reason, winner_campaign_id FROM exclusions ORDER BY campaign_id")
        assert rows == [("C3", "capped", "C0"), ("C4", "capped", "C0")]
        assert led.cap_violations() == []


def test_sliding_period(ledger_url: str) -> None:
    pol = ContactPolicy(caps={"outbound": Cap(1, Period(days=7))})
    with ContactLedger(ledger_url, pol) as led:
        r = [
            led.reserve(req(f"C{d}", "13800000002", channel="outbound", at=NOON + dt.timedelta(days=d)))
            for d in (0, 3, 6, 7, 20)
        ]
        assert [x.decision for x in r] == [
            Decision.RESERVED,
            Decision.CAPPED,
            Decision.CAPPED,
            Decision.RESERVED,
            Decision.RESERVED,
        ]
        assert led.cap_violations() == []


def test_quiet_hours_defer_not_drop(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        late = dt.datetime(2026, 11, 10, 22, 30)
        r = led.reserve(req("C1", "13800000003", at=late))
        assert r.decision == Decision.DEFERRED and r.send_at == dt.datetime(2026, 11, 11, 8, 0)
        early = dt.datetime(2026, 11, 10, 6, 0)
        assert led.reserve(req("C2", "13800000003", at=early)).send_at == dt.datetime(2026, 11, 10, 8, 0)
        # touchpoints are not pushed: no quiet hours
        assert led.reserve(req("C3", "13800000003", channel="hall", at=late)).decision == Decision.RESERVED
        # the deferred contact is not due before 08:00
        assert led.claim_due("C1", 0, "sms", dt.datetime(2026, 11, 11, 7, 59), 10) == []
        assert len(led.claim_due("C1", 0, "sms", dt.datetime(2026, 11, 11, 8, 0), 10)) == 1


def test_exclusions_and_service_exemption(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        led.set_do_not_disturb(["13800000010"])
        led.set_complaint_sensitive(["13800000011"])
        led.set_holdings([("13800000012", "5G_PACK_30")])
        assert led.reserve(req("C1", "13800000010")).decision == Decision.DO_NOT_DISTURB
        assert led.reserve(req("C1", "13800000011")).decision == Decision.COMPLAINT_SENSITIVE
        assert led.reserve(req("C1", "13800000012")).decision == Decision.HOLDS_OFFER
        assert led.reserve(req("C2", "13800000012", offer_id="VIDEO_VIP")).decision == Decision.RESERVED
        # service messages are exempt: from the lists and from the cap
        for i in range(6):
            r = led.reserve(
                req(
                    f"S{i}",
                    "13800000010",
                    kind=ContactKind.SERVICE,
                    offer_id=None,
                    at=dt.datetime(2026, 11, 10, 23),
                )
            )
            assert r.decision == Decision.RESERVED  # and from quiet hours
        assert led.cap_violations() == []


def test_acceptance_stops_the_offer_everywhere(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        pending = led.reserve(req("C1", "13800000020", at=dt.datetime(2026, 11, 10, 23)))  # deferred
        assert pending.decision == Decision.DEFERRED
        led.record_response("13800000020", "5G_PACK_30", "10086", "accepted", NOON, campaign_id="C2")
        st_ = led.db.q("SELECT status FROM contacts WHERE contact_id=?", (pending.contact_id,))[0][0]
        assert st_ == ContactStatus.CANCELLED
        assert led.reserve(req("C3", "13800000020", channel="outbound")).decision == Decision.ACCEPTED_OFFER
        assert led.reserve(req("C3", "13800000020", offer_id="OTHER")).decision == Decision.RESERVED
        hist = led.history("13800000020")
        assert {h["event"] for h in hist} == {"contact", "response"}
        assert any(h["channel"] == "10086" and h["status"] == "accepted" for h in hist)


def test_priority_preempts_pending_lower_priority_and_records_loser(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        ids = [led.reserve(req(f"LOW{i}", "13800000030", priority=1)).contact_id for i in range(3)]
        assert led.reserve(req("EQUAL", "13800000030", priority=1)).decision == Decision.CAPPED
        hi = led.reserve(req("HIGH", "13800000030", priority=5))
        assert hi.decision == Decision.RESERVED and hi.preempted_contact_id in ids
        loser = led.db.q(
            "SELECT campaign_id, reason, winner_campaign_id FROM exclusions WHERE reason='lost_priority'"
        )
        assert loser == [(f"LOW{ids.index(hi.preempted_contact_id)}", "lost_priority", "HIGH")]
        # once handed to a channel a contact is not taken back
        led.db.q("UPDATE contacts SET status='submitted' WHERE status='reserved'")
        assert led.reserve(req("HIGHER", "13800000030", priority=9)).decision == Decision.CAPPED
        assert led.cap_violations() == []


def test_reserve_is_idempotent_per_campaign_wave(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        a = led.reserve(req("C1", "13800000040"))
        b = led.reserve(req("C1", "13800000040"))
        assert b.decision == Decision.ALREADY and b.contact_id == a.contact_id
        assert led.reserve(req("C1", "13800000040", wave=1)).decision == Decision.RESERVED


def test_reserve_list_arbitrates_by_priority(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        led.set_do_not_disturb(["13800000053"])
        for i in range(2):  # subscriber 50 already has two SMS this month
            led.reserve(req(f"OLD{i}", "13800000050"))
        subs = ["13800000050", "13800000051", "13800000052", "13800000053"]
        camps = ["A", "B", "C", "D"]  # priorities 4, 3, 2, 1
        cid, ms, pr = [], [], []
        for c, p in zip(camps, (4, 3, 2, 1), strict=True):
            for m in subs:
                cid.append(c)
                ms.append(m)
                pr.append(p)
        counts = led.reserve_list(cid, ms, ["5G_PACK_30"] * len(ms), pr, "sms", NOON)
        # 50: one slot left → A; 51 and 52: three slots → A, B, C; 53: do-not-disturb × 4
        assert counts == {"reserved": 7, "lost_priority": 5, "do_not_disturb": 4}
        lost = led.db.q(
            "SELECT campaign_id, msisdn, winner_campaign_id FROM exclusions WHERE reason='lost_priority' ORDER BY 2, 1"
        )
        assert lost[:3] == [("B", "13800000050", "A"), ("C", "13800000050", "A"), ("D", "13800000050", "A")]
        # a re-run decides nothing twice
        assert led.reserve_list(cid, ms, ["5G_PACK_30"] * len(ms), pr, "sms", NOON) == {"already": 16}
        # now every one is full: a new list is capped
        assert led.reserve_list(["E"] * 3, subs[:3], [None] * 3, [9] * 3, "sms", NOON) == {"capped": 3}
        assert led.cap_violations() == []


def test_bad_input_is_named() -> None:
    with pytest.raises(LedgerUrlError, match="unknown backend 'mysql'"):
        ContactLedger("mysql://x")
    with pytest.raises(ValueError, match="at least 1 day"):
        Period(days=0)


def test_unknown_channel_is_named(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led, pytest.raises(ValueError, match="unknown channel 'fax'"):
        led.reserve(req("C1", "13800000001", channel="fax"))


# ---- the invariant, as a property --------------------------------------------------------------

_example = itertools.count()
POLICY = ContactPolicy(caps={"sms": Cap(3), "outbound": Cap(2, Period(days=5))})

op = st.tuples(
    st.sampled_from(["reserve", "reserve", "reserve", "service", "accept", "list"]),
    st.integers(0, 3),  # subscriber
    st.sampled_from(["sms", "outbound", "hall"]),
    st.integers(0, 5),  # campaign
    st.integers(0, 3),  # priority
    st.integers(0, 24 * 50),  # hours after the start: spans two calendar months
    st.sampled_from(["P1", "P2"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=40))
def test_no_sequence_of_operations_breaks_the_cap(ledger_url: str, ops: list[tuple]) -> None:
    ex = next(_example)
    start = dt.datetime(2026, 10, 20)
    with ContactLedger(ledger_url, POLICY) as led:
        for kind, s, ch, c, p, h, offer in ops:
            m = f"139{ex:04d}{s:04d}"
            at = start + dt.timedelta(hours=h)
            camp = f"E{ex}C{c}"
            if kind == "accept":
                led.record_response(m, offer, ch, "accepted", at)
                continue
            if kind == "list":
                led.reserve_list([camp, f"{camp}x"], [m, m], [offer, offer], [p, p + 1], ch, at, wave=h)
                continue
            r = led.reserve(
                ContactRequest(
                    camp,
                    m,
                    ch,
                    at,
                    offer,
                    p,
                    ContactKind.SERVICE if kind == "service" else ContactKind.MARKETING,
                    wave=h,
                )
            )
            if kind == "service":
                assert r.decision in {Decision.RESERVED, Decision.ALREADY}
            if r.decision == Decision.ACCEPTED_OFFER:
                assert led.db.q("SELECT 1 FROM acceptances WHERE msisdn=? AND offer_id=?", (m, offer))
            if r.decision == Decision.CAPPED:
                # capped means: the window really is full with contacts of equal or higher priority
                cap = POLICY.caps[ch]
                lo, hi = cap.period.bounds(POLICY.defer(ch, "marketing", at))
                n = led.db.q(
                    "SELECT count(*), min(priority) FROM contacts WHERE msisdn=? AND channel=? AND kind='marketing' "
                    "AND status='reserved' AND contact_at >= ? AND contact_at < ?",
                    (m, ch, lo, hi),
                )[0]
                if cap.period.days is None:  # a calendar month: exactly full, none of lower priority
                    assert n[0] == cap.limit and n[1] >= p
                else:
                    assert n[0] >= cap.limit
        assert led.cap_violations() == []
        # an accepted offer has no pending contact left in any channel
        assert not led.db.q(
            "SELECT 1 FROM contacts c JOIN acceptances a ON a.msisdn=c.msisdn AND a.offer_id=c.offer_id "
            "WHERE c.status='reserved' AND c.kind='marketing' AND c.msisdn LIKE ?",
            (f"139{ex:04d}____",),
        )


# ---- the invariant under real concurrency: threads and processes --------------------------------

SUBS = [f"1370000{i:04d}" for i in range(12)]


def _hammer(url: str, seed: int, n: int) -> None:
    """Many campaigns and channels at once on a few subscribers: singles and bulk lists mixed."""
    rnd = random.Random(seed)
    with ContactLedger(url, POLICY) as led:
        for i in range(n):
            ch = rnd.choice(["sms", "sms", "outbound"])
            at = dt.datetime(2026, 11, 1) + dt.timedelta(hours=rnd.randrange(0, 24 * 20))
            if i % 10 == 0:
                ms = rnd.sample(SUBS, 6)
                led.reserve_list([f"L{seed}_{i}"] * 6, ms, ["P1"] * 6, [rnd.randrange(5)] * 6, ch, at)
            else:
                led.reserve(ContactRequest(f"S{seed}_{i}", rnd.choice(SUBS), ch, at, "P1", rnd.randrange(5)))


def _stress(url: str, threads: int, procs: int, n: int) -> None:
    ContactLedger(url, POLICY).close()  # create the schema once
    ctx = mp.get_context("fork")
    ps = [ctx.Process(target=_hammer, args=(url, 1000 + k, n)) for k in range(procs)]
    ts = [threading.Thread(target=_hammer, args=(url, k, n)) for k in range(threads)]
    for x in ps + ts:
        x.start()
    for t in ts:
        t.join()
    for p in ps:
        p.join(timeout=300)
        assert p.exitcode == 0, "a stress process failed"
    with ContactLedger(url, POLICY) as led:
        assert led.cap_violations() == []
        total = led.db.q("SELECT count(*) FROM contacts")[0][0]
        counted = led.db.q("SELECT count(*) FROM contacts WHERE channel='sms' AND status='reserved'")[0][0]
        # demand far exceeds capacity: every subscriber's SMS slots were filled, and not one more
        assert counted == 3 * len(SUBS)
        assert total > counted


@pytest.mark.slow
def test_cap_holds_under_threads_and_processes(ledger_url: str) -> None:
    _stress(ledger_url, threads=4, procs=3, n=60)


def test_concurrent_senders_claim_each_contact_once(ledger_url: str) -> None:
    with ContactLedger(ledger_url) as led:
        led.reserve_list(
            ["W"] * 400, [f"1350000{i:04d}" for i in range(400)], [None] * 400, [0] * 400, "sms", NOON
        )
    claimed: list[int] = []
    lock = threading.Lock()

    def sender() -> None:
        with ContactLedger(ledger_url) as led:
            while rows := led.claim_due("W", 0, "sms", NOON, 7):
                with lock:
                    claimed.extend(r[0] for r in rows)

    ts = [threading.Thread(target=sender) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(claimed) == 400 and len(set(claimed)) == 400


def test_reserve_many_decides_as_reserve_in_turn(
    ledger_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """One transaction for a micro-batch of requests (the event worker's), the same decisions."""
    import random

    rng = random.Random(5)
    base = dt.datetime(2026, 11, 10, 9, 0)
    reqs = [
        ContactRequest(
            f"rule:r{rng.randint(0, 3)}",
            f"1380000{rng.randint(0, 9):04d}",
            "sms",
            base + dt.timedelta(hours=rng.randint(0, 14)),
            offer_id=f"O{rng.randint(0, 2)}",
            priority=rng.randint(0, 3),
            wave=i,
        )
        for i in range(60)
    ]
    other = f"sqlite:///{tmp_path_factory.mktemp('one_by_one') / 'l.db'}"
    with ContactLedger(ledger_url) as many, ContactLedger(other) as single:
        for led in (many, single):
            led.set_do_not_disturb(["13800000003"])
        got = many.reserve_many(reqs)
        want = [single.reserve(r) for r in reqs]
        assert [(g.decision, g.send_at) for g in got] == [(w.decision, w.send_at) for w in want]
        assert many.cap_violations() == []
        assert {Decision.CAPPED, Decision.RESERVED, Decision.DO_NOT_DISTURB} <= {g.decision for g in got}
