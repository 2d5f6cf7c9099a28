"""Simulated responses: contacted subscribers answer from the simulator's ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
from tagcloud.campaigns.execute import launch, plan_wave, split_target
from tagcloud.campaigns.policy import ContactLedger
from tagcloud.campaigns.responses import simulate_responses, targeting_lift

from .helpers import SCRIPTS


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory):
    from tagcloud.sim.simulate import simulate
    from tagcloud.sim.truth import GroundTruth

    out = tmp_path_factory.mktemp("sim")
    simulate(out, 1500, 1, seed=5, quiet=True)
    return GroundTruth.load(out)


def test_contacted_subscribers_answer_from_ground_truth(truth, tmp_path: Path) -> None:
    from tagcloud.sim.catalogue import MARKETABLE

    ms = np.array(truth.subscribers.column("msisdn").to_pylist(), dtype=object)
    # the offer this province is likeliest to take, so that "some answered" is a real check, not luck
    expected = {p: float(truth.acceptance_probability(ms, p, "sms").sum()) for p in MARKETABLE}
    offer = max(expected, key=lambda p: expected[p])
    assert expected[offer] * 0.8 >= 3, expected  # 80% are contacted (20% control)
    d = CampaignDesign(
        campaign_id="SIM1", name="offer", region_id="P", region_level="province", target="true",
        sub_campaigns=[SubCampaign(name="all", offer_id=offer, scripts=SCRIPTS)],
        waves=[Wave(channel="sms")], start=dt.datetime(2026, 10, 20, 10), control_share=0.2,
    )  # fmt: skip
    t = split_target(d, ms, np.full(len(ms), "all", dtype=object))
    with ContactLedger(f"sqlite:///{tmp_path / 'l.db'}") as led:
        launch(led, d, t, tmp_path)
        plan_wave(led, d, t, 0)
        ids = [r[0] for r in led.db.q("SELECT contact_id FROM contacts WHERE status='reserved'")]
        led.set_status([(i, "delivered", None) for i in ids], d.start)
        got = simulate_responses(led, d, truth, 0)
        reached = np.array(
            [r[0] for r in led.db.q("SELECT msisdn FROM contacts WHERE status='delivered'")], dtype=object
        )
        assert got == {"sms": int(truth.accepts(reached, offer, "sms").sum())} and got["sms"] > 0
        assert led.db.q("SELECT count(*) FROM responses")[0][0] == got["sms"]
        assert simulate_responses(led, d, truth, 0) == {"sms": 0}  # nobody answers twice
        # control members were never contacted, so never answer
        ctl = set(t.msisdn[t.control])
        assert not ctl & {r[0] for r in led.db.q("SELECT msisdn FROM responses")}


def test_targeting_lift_against_random(truth) -> None:
    ms = np.array(truth.subscribers.column("msisdn").to_pylist(), dtype=object)
    p = truth.acceptance_probability(ms, "MB_TXV", "sms")
    top = ms[np.argsort(-p)[: len(ms) // 10]]
    lift = targeting_lift(truth, top, ms, "MB_TXV")
    assert lift.size == len(top) and lift.ratio > 3
    # a random "target" is no better than random: summed over many draws, since 750 people accept
    # an offer a few times at most and one draw of zero against one would say nothing
    draws = [targeting_lift(truth, ms[::2], ms, "MB_TXV", seed=s) for s in range(40)]
    targeted, random = sum(d.targeted_rate for d in draws), sum(d.random_rate for d in draws)
    assert random > 0 and 0.5 < targeted / random < 2


def test_history_signals_feed_the_next_campaigns(tmp_path: Path) -> None:
    from tagcloud.campaigns.policy import ContactRequest
    from tagcloud.campaigns.responses import history_signals

    noon = dt.datetime(2026, 11, 10, 12)
    with ContactLedger(f"sqlite:///{tmp_path / 'l.db'}") as led:
        for i, ch in enumerate(["sms", "sms", "outbound"]):
            r = led.reserve(ContactRequest(f"C{i}", "13900000001", ch, noon, f"O{i}"))
            led.set_status([(r.contact_id, "delivered", None)], noon)  # type: ignore[list-item]
        led.record_response("13900000001", "O2", "outbound", "accepted", noon, campaign_id="C2")
        led.reserve(ContactRequest("C9", "13900000002", "sms", noon, "O9"))  # never sent: no signal
        s = history_signals(led, noon - dt.timedelta(days=30))
    assert s.select("channel", "contacts", "responses", "accepted").rows() == [
        ("outbound", 1, 1, 1),
        ("sms", 2, 0, 0),
    ]
    assert s["response_rate"].to_list() == [1.0, 0.0]
