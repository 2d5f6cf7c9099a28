"""Responses from the simulated province to rule-triggered SMS, like ``campaigns/responses.py`` for
campaigns: the simulator owns the answer (``tagcloud.sim.events.acceptance``: the latent acceptance
times the need window at the time the SMS arrived); this module only asks it and records the
acceptances in the ledger, so a demo rule's report shows realistic lift against its control group.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from tagcloud.campaigns.policy import ContactLedger
from tagcloud.realtime.rulestore import RuleDesign


def simulate_responses(
    ledger: ContactLedger,
    design: RuleDesign,
    truth: Any,
    stream: Any,
    seed: int = 0,
) -> tuple[int, Any]:
    """The simulated subscribers answer a rule's SMS (sim ground truth): accepted responses go to the
    ledger; organic purchases of the offer by every fired subscriber (action and control) come back
    as an ``orders`` table (pyarrow) for :func:`evaluate_rule`. Returns (accepted, orders)."""
    import pyarrow as pa

    from tagcloud.campaigns.policy import from_epoch
    from tagcloud.sim.events import ORGANIC, acceptance, draw

    sent = ledger.db.q(
        "SELECT contact_id, msisdn, contact_at FROM contacts WHERE campaign_id=? AND status IN ('submitted', 'delivered')",
        (design.campaign_id,),
    )
    accepted = 0
    if sent:
        ms = np.array([int(r[1]) for r in sent], np.int64)
        at = np.array([r[2] for r in sent], np.int64).astype("datetime64[s]")
        p = acceptance(truth, stream, ms, design.offer_id, "sms", at)
        yes = draw(ms, p, seed * 7919 + 11)
        for (cid, m, t), y in zip(sent, yes.tolist(), strict=True):
            if y:
                ledger.record_response(
                    m, design.offer_id, "sms", "accepted", from_epoch(int(t) + 600), design.campaign_id, cid
                )
                accepted += 1
    fired = ledger.db.q(
        "SELECT msisdn, min(event_at) FROM rt_decisions WHERE rule_id=? AND outcome IN ('contacted', 'deferred', 'control', "
        "'blocked') GROUP BY msisdn",
        (design.rule_id,),
    )
    ms = np.array([int(r[0]) for r in fired], np.int64)
    at = np.array([r[1] for r in fired], np.int64).astype("datetime64[s]")
    organic = (
        draw(ms, acceptance(truth, stream, ms, design.offer_id, "sms", at) * ORGANIC, seed * 104729 + 5)
        if len(ms)
        else np.zeros(0, bool)
    )
    buy_at = [
        dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(t) + 3 * 3600)
        for t in at[organic].astype(np.int64).tolist()
    ]
    orders = pa.table(
        {
            "msisdn": pa.array([str(m) for m in ms[organic].tolist()], pa.string()),
            "product_id": pa.array([design.offer_id] * int(organic.sum()), pa.string()),
            "action": pa.array(["subscribe"] * int(organic.sum()), pa.string()),
            "order_time": pa.array(buy_at, pa.timestamp("s")),
        }
    )
    return accepted, orders
