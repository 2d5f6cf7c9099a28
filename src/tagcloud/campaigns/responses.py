"""Responses from the simulated province: each contacted subscriber answers from their latent
propensity to take the offer and to respond on that channel (the simulator's ground truth), so a
demo campaign's outcomes are realistic and its lift against control can be checked.

The simulator owns the answer (``tagcloud.sim.truth.GroundTruth.accepts``); this module only asks
it, per (offer, channel) group of contacts, and records the acceptances in the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tagcloud.campaigns.design import CampaignDesign
from tagcloud.campaigns.evaluate import Comparison
from tagcloud.campaigns.policy import ContactLedger, from_epoch

if TYPE_CHECKING:
    import polars as pl

    from tagcloud.sim.truth import GroundTruth

REACHED = ("delivered", "submitted")  # a contact that reached the subscriber (or an agent presented it)


def simulate_responses(
    ledger: ContactLedger,
    design: CampaignDesign,
    truth: GroundTruth,
    wave: int,
    seed: int = 0,
    delay: dt.timedelta = dt.timedelta(hours=20),
) -> dict[str, int]:
    """Let the subscribers reached in ``wave`` answer; record acceptances ``delay`` after the contact.

    Returns channel → acceptances. Subscribers who already responded to the campaign stay silent.
    """
    from tagcloud.sim.population import CHANNELS

    rows = ledger.db.q(
        "SELECT c.contact_id, c.msisdn, c.offer_id, c.channel, c.contact_at FROM contacts c "
        "WHERE c.campaign_id=? AND c.wave=? AND c.status IN ('delivered', 'submitted') AND NOT EXISTS "
        "(SELECT 1 FROM responses r WHERE r.campaign_id=c.campaign_id AND r.msisdn=c.msisdn)",
        (design.campaign_id, wave),
    )
    if not rows:
        return {}
    cid = np.array([r[0] for r in rows])
    ms = np.array([r[1] for r in rows], dtype=object)
    offer = np.array([r[2] for r in rows], dtype=object)
    channel = np.array([r[3] for r in rows], dtype=object)
    at = np.array([r[4] for r in rows], dtype=np.int64)
    out: dict[str, int] = {}
    for o in np.unique(offer):
        for ch in np.unique(channel):
            sel = np.flatnonzero((offer == o) & (channel == ch))
            if not len(sel):
                continue
            if ch not in CHANNELS:
                raise ValueError(
                    f"the simulator has no response rate for channel {ch!r}; it knows {CHANNELS}"
                )
            yes = sel[truth.accepts(ms[sel], str(o), str(ch), seed=seed + wave)]
            for i in yes:  # acceptances only: a few per cent of the list
                ledger.record_response(
                    str(ms[i]), str(o), str(ch), "accepted", from_epoch(int(at[i])) + delay,
                    campaign_id=design.campaign_id, contact_id=int(cid[i]),
                )  # fmt: skip
            out[str(ch)] = out.get(str(ch), 0) + len(yes)
    return out


@dataclass
class TargetingLift:
    """Success of an offer sent to a tag-targeted group against a random group of the same size."""

    size: int
    targeted_successes: int
    random_size: int
    random_successes: int

    @property
    def targeted_rate(self) -> float:
        return self.targeted_successes / self.size if self.size else 0.0

    @property
    def random_rate(self) -> float:
        return self.random_successes / self.random_size if self.random_size else 0.0

    @property
    def ratio(self) -> float:
        return self.targeted_rate / self.random_rate if self.random_rate else float("inf")

    @property
    def comparison(self) -> Comparison:
        """The same two groups as a comparison: its verdict says when the sample is too small."""
        return Comparison(self.size, self.targeted_successes, self.random_size, self.random_successes)


def targeting_lift(
    truth: GroundTruth,
    targeted: np.ndarray,
    population: np.ndarray,
    offer_id: str,
    channel: str = "sms",
    seed: int = 0,
) -> TargetingLift:
    """Answer the same offer for the targeted numbers and for a random sample of ``population`` of
    the same size (drawn without the targeted ones' knowledge), from the simulator's ground truth."""
    rng = np.random.default_rng(seed)
    targeted = np.asarray(targeted, dtype=object)
    sample = rng.choice(
        np.asarray(population, dtype=object), size=min(len(targeted), len(population)), replace=False
    )
    t = truth.accepts(targeted, offer_id, channel, seed=seed)
    r = truth.accepts(sample, offer_id, channel, seed=seed)
    return TargetingLift(len(targeted), int(t.sum()), len(sample), int(r.sum()))


def history_signals(ledger: ContactLedger, since: dt.datetime) -> pl.DataFrame:
    """Per subscriber and channel since ``since``: contacts, responses, acceptances, response rate and
    the last contact — the response and channel-preference signals the next campaigns (and the tag
    library's channel-preference tags) are built from."""
    import polars as pl

    from tagcloud.campaigns.policy import epoch

    ts = epoch(since)
    rows = ledger.db.q(
        "WITH c AS (SELECT msisdn, channel, count(*) AS contacts, max(contact_at) AS last_contact FROM contacts "
        "WHERE kind='marketing' AND status IN ('submitted', 'delivered', 'unknown') AND contact_at >= ? GROUP BY 1, 2), "
        "r AS (SELECT msisdn, channel, count(*) AS responses, "
        "sum(CASE WHEN outcome='accepted' THEN 1 ELSE 0 END) AS accepted FROM responses WHERE responded_at >= ? GROUP BY 1, 2) "
        "SELECT c.msisdn, c.channel, c.contacts, COALESCE(r.responses, 0), COALESCE(r.accepted, 0), c.last_contact "
        "FROM c LEFT JOIN r ON r.msisdn = c.msisdn AND r.channel = c.channel ORDER BY 1, 2",
        (ts, ts),
    )
    schema = {
        "msisdn": pl.String,
        "channel": pl.String,
        "contacts": pl.Int64,
        "responses": pl.Int64,
        "accepted": pl.Int64,
        "last_contact": pl.Int64,
    }
    df = pl.DataFrame(rows, schema=schema, orient="row")
    return df.with_columns(
        (pl.col("responses") / pl.col("contacts")).alias("response_rate"),
        pl.from_epoch("last_contact", time_unit="s").alias("last_contact"),
    )
