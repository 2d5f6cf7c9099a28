"""Alert rules' evaluation, the loop's state machine (with a property test), chain checks and
the drill-down's contributions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagcloud.regions import alerts as al
from tagcloud.regions.alerts import AlertAction as A
from tagcloud.regions.alerts import AlertState as S
from tagcloud.regions.alerts import Role, Turn

REPORTER, OWNER = Turn(Role.REPORTER), Turn(Role.OWNER)


def test_the_seed_story_through_the_loop() -> None:
    # raised → report → county returns → revise → county approves → city closes
    s, k = S.RAISED, 0
    s, k = al.transition(s, k, 1, A.REPORT, REPORTER, "rival's campaign at the market")
    assert (s, k) == (S.IN_REVIEW, 0)
    s, k = al.transition(s, k, 1, A.RETURN, Turn(Role.REVIEWER, 0), "which outlets?")
    assert s == S.RETURNED
    with pytest.raises(al.AlertFlowError, match="修改并汇报"):
        al.transition(s, k, 1, A.REPORT, REPORTER, "again")
    s, k = al.transition(s, k, 1, A.REVISE_AND_REPORT, REPORTER, "3 outlets, with numbers")
    s, k = al.transition(s, k, 1, A.APPROVE, Turn(Role.REVIEWER, 0))
    assert s == S.AT_OWNER
    with pytest.raises(al.AlertFlowError, match="owner's turn"):
        al.transition(s, k, 1, A.CLOSE, REPORTER)
    s, k = al.transition(s, k, 1, A.CLOSE, OWNER)
    assert s == S.TRACKING
    with pytest.raises(al.AlertFlowError, match="closed"):
        al.transition(s, k, 1, A.APPROVE, Turn(Role.REVIEWER, 0))
    assert al.transition(s, k, 1, A.COMMENT, REPORTER, "recovered") == (S.TRACKING, 0)


def test_refusals_say_why() -> None:
    with pytest.raises(al.AlertFlowError, match="chain"):
        al.transition(S.RAISED, 0, 1, A.REPORT, None, "x")
    with pytest.raises(al.AlertFlowError, match="analysis"):
        al.transition(S.RAISED, 0, 1, A.REPORT, REPORTER, "  ")
    with pytest.raises(al.AlertFlowError, match="why"):
        al.transition(S.IN_REVIEW, 0, 1, A.RETURN, Turn(Role.REVIEWER, 0), "")
    with pytest.raises(al.AlertFlowError, match="reviewer 2"):
        al.transition(S.IN_REVIEW, 1, 2, A.APPROVE, Turn(Role.REVIEWER, 0))


@settings(max_examples=300, deadline=None)
@given(
    reviewers=st.integers(1, 4),
    moves=st.lists(
        st.tuples(st.sampled_from(list(A)), st.sampled_from(["r", "o", 0, 1, 2, 3, None])), max_size=30
    ),
)
def test_any_sequence_keeps_the_loop_consistent(reviewers: int, moves: list[tuple[A, Any]]) -> None:
    """Whatever people try, the state stays valid, only the one whose turn it is moves it, and
    tracking is reached only by the final owner's close after every reviewer approved."""
    s, k = S.RAISED, 0
    approvals: set[int] = set()
    for action, who in moves:
        actor = (
            {"r": REPORTER, "o": OWNER, None: None}.get(who)
            if not isinstance(who, int)
            else Turn(Role.REVIEWER, who)
        )
        turn = al.whose_turn(s, k)
        try:
            s2, k2 = al.transition(s, k, reviewers, action, actor, "text")
        except al.AlertFlowError:
            continue
        if (s2, k2) != (s, k) or action != A.COMMENT:
            assert actor == turn
        if action == A.APPROVE:
            approvals.add(k)
        if s2 == S.RETURNED:
            approvals.clear()
        if s2 == S.TRACKING:
            assert s == S.AT_OWNER and approvals == set(range(reviewers))
        assert s2 != S.IN_REVIEW or 0 <= k2 < reviewers
        s, k = s2, k2


def test_chain_problems() -> None:
    p = al.Person
    ok = [p(1, "a", True, True), p(2, "b", True, True), p(3, "c", True, True)]
    assert al.chain_problems(ok[0], [ok[1]], ok[2]) == []
    assert any("no reviewer" in x for x in al.chain_problems(ok[0], [], ok[2]))
    assert any("no reporter" in x for x in al.chain_problems(None, [ok[1]], ok[2]))
    assert any("twice" in x for x in al.chain_problems(ok[0], [ok[0]], ok[2]))
    assert any("outside" in x for x in al.chain_problems(p(1, "a", True, False), [ok[1]], ok[2]))
    assert any("handle_alert" in x for x in al.chain_problems(ok[0], [p(2, "b", False, True)], ok[2]))


def test_robust_z() -> None:
    hist = np.array(
        [[10, 11, 9, 10, 10, 12, 9.0], [5, 5, 5, 5, 5, 5, 5], [1, np.nan, np.nan, np.nan, 2, 1, 1]]
    )
    z, med = al.robust_z(np.array([0.0, 5.0, 0.0]), hist)
    assert med[0] == 10 and z[0] < -5
    assert z[1] == 0  # a flat history: no change, no score (not a division by zero)
    assert np.isnan(z[2])  # too little history


def test_evaluate_finds_the_planted_outage_and_little_else(market_warehouse: dict[str, Any]) -> None:
    from tagcloud.sim.market import load_anomalies

    store = market_warehouse["store"]
    outage = next(a for a in load_anomalies(market_warehouse["truth"]) if a.kind == "cell_outage")
    cells = [
        r[0] for r in market_warehouse["warehouse"].connect().execute("SELECT cell_id FROM cells").fetchall()
    ]
    rule = al.RuleSpec(
        "cells", "active_subscribers", tuple(cells), al.ThresholdKind.CHANGE_WEEK, "<=", -80, min_volume=10
    )
    day = dt.date.fromisoformat(outage.first_day)
    breaches = al.evaluate([rule], store, day)
    assert outage.cell_id in {b.region_id for b in breaches}
    b = next(b for b in breaches if b.region_id == outage.cell_id)
    assert b.value == 0 and b.metric == -100 and b.level == "cell"
    assert al.evaluate([rule], store, day - dt.timedelta(days=1)) == [] or all(
        x.region_id != outage.cell_id for x in al.evaluate([rule], store, day - dt.timedelta(days=1))
    )


def test_rule_spec_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="operator"):
        al.RuleSpec(1, "revenue", ("X",), al.ThresholdKind.ABSOLUTE, "=<", 1)
    with pytest.raises(ValueError, match="unknown KPI"):
        al.RuleSpec(1, "revenu", ("X",), al.ThresholdKind.ABSOLUTE, "<", 1)


def test_drill_down_contributions_add_up_for_a_sum(market_warehouse: dict[str, Any]) -> None:
    from tagcloud.sim.market import load_anomalies

    store = market_warehouse["store"]
    broken = next(a for a in load_anomalies(market_warehouse["truth"]) if a.kind == "broken_channel")
    day = dt.date.fromisoformat(broken.first_day)
    e = al.drill_down(store, "revenue", "county", broken.region_id, day, day - dt.timedelta(days=7))
    assert e.change is not None and e.change != 0
    for dim in ("sub_region", "channel"):
        rows = [r for r in e.rows if r.dimension == dim]
        # for an additive KPI each member's effect is its own change, so they sum to the total
        assert sum(r.effect for r in rows) == pytest.approx(e.change)
        assert sum(r.share for r in rows) == pytest.approx(1.0)
        assert [r.share for r in rows] == sorted((r.share for r in rows), reverse=True)
    agent = next(r for r in e.rows if r.dimension == "channel" and r.member == "agent")
    assert agent.value_now == 0  # the broken outlets took no payment; their whole baseline is lost
    assert agent.effect == pytest.approx(-(agent.value_base or 0))
    assert "of the change" in al.headline(e)
