"""Next-best-offer: ranking, the time budget, the contact policy, and one acceptance stopping the
offer in every channel — on each contact-memory backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
from tagcloud.campaigns.policy import ContactLedger, ContactRequest, Decision
from tagcloud.realtime.bus import SqliteBus
from tagcloud.realtime.decide import DecideError, Decider, Fallback, ModelOffer
from tagcloud.realtime.engine import SubscriberTable
from tagcloud.realtime.events import Lateness
from tagcloud.realtime.memory import open_memory
from tagcloud.realtime.rulestore import RuleStore
from tagcloud.realtime.worker import Worker
from tagcloud.tags.condition import names_from_kinds

from .helpers import activate, msisdn, roam, roam_rule

NOW = dt.datetime(2026, 11, 10, 12, 0)
NAMES = names_from_kinds(
    {"arpu_3m": "number", "has_roaming_pack": "flag", "city_id": "text", "is_student": "flag",
     "family_prospect": "flag", "roam_score": "number", "video_score": "number"}
)  # fmt: skip
FAMILY = ModelOffer("FAMILY_VNET", "家庭V网", "family_prospect", "尾号{msisdn_tail}: 家庭V网每月省20元")
VIDEO = ModelOffer("VIDEO_VIP", "视频会员", "video_score", "视频会员首月1元", min_score=0.2)
FALLBACK = Fallback("APP_DOWNLOAD", "下载手机营业厅", "下载手机营业厅APP, 尾号{msisdn_tail}")


def table(n: int = 200) -> SubscriberTable:
    i = np.arange(n)
    return SubscriberTable.from_arrow(
        pa.table(
            {
                "msisdn": pa.array([msisdn(x) for x in i]),
                "arpu_3m": pa.array((i % 200).astype(float)),
                "has_roaming_pack": pa.array(i % 10 == 0),
                "city_id": pa.array(np.where(i % 2 == 0, "4401", "4403").tolist()),
                "is_student": pa.array(i % 3 == 0),
                "family_prospect": pa.array(i % 2 == 1),
                "roam_score": pa.array(((i * 37) % 100) / 100.0),
                "video_score": pa.array(((i * 53) % 100).astype(float)),  # a 0-100 score
            }
        ),
        NAMES,
    )


@pytest.fixture
def env(tmp_path: Path, memory: Any) -> Any:
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    ledger = ContactLedger(url)
    rules = RuleStore(url, names=NAMES)
    yield ledger, rules, memory
    ledger.close()
    rules.close()


def decider(ledger: Any, rules: Any, memory: Any, **kw: Any) -> Decider:
    kw.setdefault("model_offers", [FAMILY, VIDEO])
    kw.setdefault("propensity", {"ROAM_PACK_30": "roam_score"})
    kw.setdefault("values", {"ROAM_PACK_30": 30.0, "FAMILY_VNET": 20.0, "VIDEO_VIP": 15.0})
    return Decider(
        ledger, memory, rules=rules, subscribers=table(), fallback=FALLBACK, clock=lambda: NOW, **kw
    )


def fire_roaming(ledger: Any, rules: Any, tmp_path: Path, subs: list[int]) -> None:
    """The event worker fires the roaming rule (SMS + 10086 + hall) for these subscribers."""
    activate(rules, roam_rule(channels=["sms", "10086", "hall", "web_hall"]))
    bus = SqliteBus(f"sqlite:///{tmp_path / 'events.db'}")
    bus.publish([roam(k, s, NOW - dt.timedelta(hours=1)).to_json() for k, s in enumerate(subs)])
    w = Worker(
        bus, ledger, rules, table(), clock="event", lateness=Lateness(max_future=dt.timedelta(hours=12))
    )
    w.run(idle_timeout=0.3, poll=0.05)
    bus.close()


def test_ranking_is_priority_times_propensity_times_value(env: Any, tmp_path: Path) -> None:
    ledger, rules, memory = env
    fire_roaming(ledger, rules, tmp_path, [121, 123])
    d = decider(ledger, rules, memory)
    out = d.decide(msisdn(123), "10086")
    assert not out.fallback
    by = {o.offer_id: o for o in out.offers}
    # subscriber 123: roaming rule fired (priority 5), odd → family prospect, video score 19 < 20
    assert set(by) == {"ROAM_PACK_30", "FAMILY_VNET"}
    roam_p = ((123 * 37) % 100) / 100
    assert by["ROAM_PACK_30"].propensity == pytest.approx(roam_p)
    assert by["ROAM_PACK_30"].score == pytest.approx(6 * roam_p * 30)
    assert by["FAMILY_VNET"].score == pytest.approx(1 * 1.0 * 20)
    assert [o.score for o in out.offers] == sorted((o.score for o in out.offers), reverse=True)
    assert "Welcome to" in by["ROAM_PACK_30"].script and "0123" in by["ROAM_PACK_30"].script
    assert by["FAMILY_VNET"].script == "尾号0123: 家庭V网每月省20元"
    # the SMS the rule sent is in the ledger: the one contact history the agent sees
    assert any(h["channel"] == "sms" and h["offer_id"] == "ROAM_PACK_30" for h in ledger.history(msisdn(123)))
    # a 0-100 score is read as a share: 53 × 7 % 100 = 71 → 0.71
    assert {o.offer_id: o.propensity for o in d.decide(msisdn(7), "hall").offers}[
        "VIDEO_VIP"
    ] == pytest.approx(0.71)
    with pytest.raises(DecideError, match="not a touchpoint"):
        d.decide(msisdn(123), "sms")


def test_campaign_touchpoint_offers_are_candidates(env: Any) -> None:
    ledger, rules, memory = env
    design = CampaignDesign(
        campaign_id="C388", name="388套餐", region_id="44", target="TRUE", start=NOW - dt.timedelta(days=1),
        sub_campaigns=[SubCampaign(name="all", offer_id="PL_388", scripts={"hall": "推荐388套餐, 尾号{msisdn_tail}"})],
        waves=[Wave(channel="hall")], priority=9, control_share=0.0,
    )  # fmt: skip
    r = ledger.reserve(
        ContactRequest(
            "C388",
            msisdn(2),
            "hall",
            NOW - dt.timedelta(days=1),
            offer_id="PL_388",
            priority=9,
            sub_campaign="all",
        )
    )
    d = decider(ledger, rules, memory, designs={"C388": design}.get)
    top = d.decide(msisdn(2), "hall").offers[0]
    assert (top.source, top.offer_id, top.contact_id, top.script) == (
        "campaign",
        "PL_388",
        r.contact_id,
        "推荐388套餐, 尾号0002",
    )
    d.feedback(msisdn(2), "PL_388", "hall", "refused", contact_id=top.contact_id)
    out = d.decide(msisdn(2), "hall")
    assert "PL_388" not in [o.offer_id for o in out.offers]


def test_time_budget_falls_back(env: Any) -> None:
    ledger, rules, memory = env

    def slow_design(cid: str) -> None:  # a campaign store that answers late
        import time

        time.sleep(0.03)

    ledger.reserve(ContactRequest("C1", msisdn(3), "hall", NOW - dt.timedelta(hours=1), offer_id="X"))
    d = decider(ledger, rules, memory, designs=slow_design, budget_ms=10)
    out = d.decide(msisdn(3), "hall")
    assert out.fallback and "10 ms budget after campaign offers" in out.reason
    assert [(o.source, o.offer_id, o.script) for o in out.offers] == [
        ("fallback", "APP_DOWNLOAD", "下载手机营业厅APP, 尾号0003")
    ]
    ok = decider(ledger, rules, memory, designs=slow_design, budget_ms=500).decide(msisdn(3), "hall")
    assert not ok.fallback


def test_policy_exclusions(env: Any) -> None:
    ledger, rules, memory = env
    d = decider(ledger, rules, memory)
    ledger.set_do_not_disturb([msisdn(1)])
    out = d.decide(msisdn(1), "hall")
    assert out.offers == [] and {e["reason"] for e in out.excluded} == {"do_not_disturb"}
    ledger.set_holdings([(msisdn(5), "FAMILY_VNET")])
    out = d.decide(msisdn(5), "hall")
    assert "FAMILY_VNET" not in [o.offer_id for o in out.offers]
    assert {
        "offer_id": "FAMILY_VNET",
        "source_id": "model:family_prospect",
        "reason": "holds_offer",
    } in out.excluded


def test_store_down_falls_back(env: Any) -> None:
    ledger, rules, _ = env
    dead = open_memory("redis://127.0.0.1:1/0", timeout_s=0.05)
    out = decider(ledger, rules, dead).decide(msisdn(3), "hall")
    assert out.fallback and "ConnectionError" in out.reason and out.offers[0].offer_id == "APP_DOWNLOAD"


def test_accepted_in_the_hall_stops_it_everywhere(env: Any, tmp_path: Path) -> None:
    """Seed 001 scenes 1-4: 10086 → considering; the hall sees it, sells; no channel offers it again."""
    ledger, rules, memory = env
    fire_roaming(ledger, rules, tmp_path, [123])
    d = decider(ledger, rules, memory)
    n = msisdn(123)
    at_10086 = d.decide(n, "10086").offers
    roam_offer = next(o for o in at_10086 if o.offer_id == "ROAM_PACK_30")
    d.feedback(
        n, "ROAM_PACK_30", "10086", "offered", source_id=roam_offer.source_id, at=NOW - dt.timedelta(days=1)
    )
    d.feedback(
        n,
        "ROAM_PACK_30",
        "10086",
        "considering",
        source_id=roam_offer.source_id,
        at=NOW - dt.timedelta(days=1),
    )
    hall = next(o for o in d.decide(n, "hall").offers if o.offer_id == "ROAM_PACK_30")
    assert hall.memory[0] == "considered at 10086 yesterday"
    assert hall.propensity == pytest.approx(min(1.0, roam_offer.propensity * 1.5))
    d.feedback(n, "ROAM_PACK_30", "hall", "accepted", source_id=roam_offer.source_id)
    assert "ROAM_PACK_30" not in [
        o.offer_id for o in d.decide(n, "sms_hall").offers
    ]  # not the rule's channel
    for ch in ("10086", "hall", "web_hall"):  # the rule's touchpoints: a candidate, refused by the ledger
        out = d.decide(n, ch)
        assert "ROAM_PACK_30" not in [o.offer_id for o in out.offers], ch
        assert {
            "offer_id": "ROAM_PACK_30",
            "source_id": "rule:roam_gd",
            "reason": "accepted_offer",
        } in out.excluded
    assert out.memory[0]["phrase"] == "accepted at the service hall today"
    # … and the batch side and the event worker's next SMS are stopped by the same ledger
    assert (
        ledger.reserve(ContactRequest("C_BATCH", n, "sms", NOW, offer_id="ROAM_PACK_30")).decision
        == Decision.ACCEPTED_OFFER
    )
    assert ledger.db.q("SELECT channel FROM acceptances WHERE msisdn=?", (n,)) == [("hall",)]
