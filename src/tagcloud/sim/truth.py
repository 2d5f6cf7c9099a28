"""Reload the ground truth of a simulator export and let the simulated subscribers answer offers.

    truth = GroundTruth.load(DIR)
    truth.persona_of(["13812345678"])            # latent persona
    truth.accepts(msisdns, "MB_TXV", "sms", seed=1)  # does each accept that offer via that channel?

Acceptance is drawn from the latent probabilities: P(accept) = response(channel) × propensity(product)
— the chance to engage with an offer on that channel times the chance to take the product once
engaged. The draw is a hash of (msisdn, product, channel, seed), so one subscriber's answer does not
depend on who else is in the batch and the same question always gets the same answer.

A campaign's effect is planted too (issue 19 §4, :meth:`GroundTruth.offer_probabilities`): what a
subscriber does in the response window *without* the contact (organic take-up through the hall or
the app) and *with* it differ by a treatment effect that varies from person to person —
persuadables gain, self-service buyers ("sure things") gain little because they would buy anyway,
and sleeping dogs (complaint-prone or likely to leave) are put off and buy less than if left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.sim.catalogue import MARKETABLE
from tagcloud.sim.population import CHANNELS

if TYPE_CHECKING:
    import pyarrow as pa


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays: a well-mixed hash, vectorised."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


@dataclass
class GroundTruth:
    """The latent truth of one export: per-subscriber profile, propensities, channel responses."""

    directory: Path
    subscribers: pa.Table  # ground_truth/subscribers.parquet
    propensity: np.ndarray  # [subscriber, MARKETABLE] float
    channel_response: np.ndarray  # [subscriber, CHANNELS] float
    offnet: pa.Table
    index: dict[int, int]  # msisdn (as int) → row

    @classmethod
    def load(cls, directory: Path | str) -> GroundTruth:
        """Read ``DIR/ground_truth``; a clear error if DIR is not a simulator export."""
        import pyarrow.parquet as pq

        d = Path(directory) / "ground_truth"
        for f in ("subscribers", "propensity", "channel_response", "offnet"):
            if not (d / f"{f}.parquet").exists():
                raise FileNotFoundError(f"{directory} is not a simulator export: {d / f}.parquet is missing")
        subs = pq.read_table(d / "subscribers.parquet")
        msisdn = np.array(subs.column("msisdn").to_pylist(), dtype=np.int64)
        index = {int(m): i for i, m in enumerate(msisdn.tolist())}
        prop = pq.read_table(d / "propensity.parquet")
        n, p = len(msisdn), len(MARKETABLE)
        pm = np.array(prop.column("msisdn").to_pylist(), dtype=np.int64)
        pid = {x: j for j, x in enumerate(MARKETABLE)}
        rows = np.array([index[int(x)] for x in pm.tolist()])
        cols = np.array([pid[x] for x in prop.column("product_id").to_pylist()])
        propensity = np.zeros((n, p))
        propensity[rows, cols] = prop.column("probability").to_numpy()
        cr_t = pq.read_table(d / "channel_response.parquet")
        cr_rows = np.array([index[int(x)] for x in cr_t.column("msisdn").to_pylist()])
        cr = np.zeros((n, len(CHANNELS)))
        for j, c in enumerate(CHANNELS):
            cr[cr_rows, j] = cr_t.column(c).to_numpy()
        return cls(Path(directory), subs, propensity, cr, pq.read_table(d / "offnet.parquet"), index)

    def rows(self, msisdns: Any) -> np.ndarray:
        """Row positions of numbers; KeyError naming the first unknown one."""
        out = np.empty(len(msisdns), np.int64)
        for i, m in enumerate(msisdns):  # dictionary lookups over a campaign's list, not a hot path
            try:
                out[i] = self.index[int(m)]
            except (KeyError, ValueError):
                raise KeyError(f"{m!r} is not a subscriber of this simulation") from None
        return out

    def column(self, name: str) -> np.ndarray:
        """One ground-truth column (e.g. ``persona``, ``churn``, ``dual_sim``) as a numpy array."""
        if name not in self.subscribers.column_names:
            raise KeyError(
                f"no ground-truth column {name!r}; have: {', '.join(self.subscribers.column_names)}"
            )
        return np.asarray(self.subscribers.column(name).to_numpy(zero_copy_only=False))

    def persona_of(self, msisdns: Any) -> list[str]:
        return self.column("persona")[self.rows(msisdns)].tolist()

    def acceptance_probability(self, msisdns: Any, product_id: str, channel: str) -> np.ndarray:
        """P(accept) of each subscriber for an offer of ``product_id`` via ``channel``."""
        if product_id not in MARKETABLE:
            raise KeyError(f"{product_id!r} is not a marketable product; have: {', '.join(MARKETABLE)}")
        if channel not in CHANNELS:
            raise KeyError(f"unknown channel {channel!r}; have: {', '.join(CHANNELS)}")
        r = self.rows(msisdns)
        return (
            self.channel_response[r, CHANNELS.index(channel)]
            * self.propensity[r, MARKETABLE.index(product_id)]
        )

    def accepts(self, msisdns: Any, product_id: str, channel: str, seed: int = 0) -> np.ndarray:
        """Whether each subscriber accepts the offer (bool array), drawn from the latent probability."""
        p = self.acceptance_probability(msisdns, product_id, channel)
        key = np.array([int(m) for m in msisdns], dtype=np.uint64)
        salt = np.uint64(
            (MARKETABLE.index(product_id) * 1_000_003 + CHANNELS.index(channel) * 7_919 + seed * 104_729)
            & 0xFFFFFFFF
        )
        u = (_splitmix(_splitmix(key) ^ salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        return u < p

    def sleeping_dogs(self, msisdns: Any) -> np.ndarray:
        """The segment a marketing contact puts off (negative treatment effect): complaint-prone
        subscribers and those with a planted churn probability of at least ``SLEEPING_DOG_CHURN``."""
        return self._dogs(self.rows(msisdns))

    def _dogs(self, r: np.ndarray) -> np.ndarray:
        return self.column("complaint_prone")[r].astype(bool) | (
            self.column("churn_prob")[r] >= SLEEPING_DOG_CHURN
        )

    def self_service(self, msisdns: Any) -> np.ndarray:
        """Self-service buyers (app response ≥ ``SELF_SERVICE_APP``): they find offers themselves, so a
        contact adds little ("sure things" when they like the product)."""
        return self.channel_response[self.rows(msisdns), CHANNELS.index("app")] >= SELF_SERVICE_APP

    def offer_probabilities(
        self, msisdns: Any, product_id: str, channel: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """(P(takes ``product_id`` within a campaign's response window | not contacted),
        P(… | contacted via ``channel``)) — the planted potential outcomes.

        * untreated: propensity × organic take-up, ``ORGANIC_SELF_SERVICE`` for self-service buyers
          (they buy in the app or the web hall unprompted), ``ORGANIC_OTHER`` for the rest;
        * treated: untreated + propensity × min(1, ``CONTACT_GAIN`` × channel response) ×
          persuadability × (1 − untreated), persuadability ``SELF_SERVICE_PERSUADABILITY`` for
          self-service buyers, 1 for the rest;
        * sleeping dogs, treated, keep only ``SLEEPING_DOG_KEEP`` of their untreated take-up.
        """
        if product_id not in MARKETABLE:
            raise KeyError(f"{product_id!r} is not a marketable product; have: {', '.join(MARKETABLE)}")
        if channel not in CHANNELS:
            raise KeyError(f"unknown channel {channel!r}; have: {', '.join(CHANNELS)}")
        r = self.rows(msisdns)
        prop = self.propensity[r, MARKETABLE.index(product_id)]
        cr = self.channel_response[r]
        ss = cr[:, CHANNELS.index("app")] >= SELF_SERVICE_APP
        p0 = prop * np.where(ss, ORGANIC_SELF_SERVICE, ORGANIC_OTHER)
        gain = np.minimum(1.0, CONTACT_GAIN * cr[:, CHANNELS.index(channel)])
        p1 = p0 + prop * gain * np.where(ss, SELF_SERVICE_PERSUADABILITY, 1.0) * (1 - p0)
        p1 = np.where(self._dogs(r), SLEEPING_DOG_KEEP * p0, p1)
        return p0, p1

    def treatment_effect(self, msisdns: Any, product_id: str, channel: str) -> np.ndarray:
        """The planted effect of contacting each subscriber: P(take-up | contacted) − P(… | not)."""
        p0, p1 = self.offer_probabilities(msisdns, product_id, channel)
        return p1 - p0

    def takes_up(
        self, msisdns: Any, product_id: str, channel: str, treated: Any, seed: int = 0
    ) -> np.ndarray:
        """Whether each subscriber takes the product within the response window, contacted
        (``treated`` true) or not. One uniform draw per subscriber serves both potential outcomes, so
        a persuadable who buys untreated also buys treated."""
        p0, p1 = self.offer_probabilities(msisdns, product_id, channel)
        key = np.array([int(m) for m in msisdns], dtype=np.uint64)
        salt = np.uint64((MARKETABLE.index(product_id) * 2_654_435_761 + seed * 97_531 + 17) & 0xFFFFFFFF)
        u = (_splitmix(_splitmix(key ^ salt) + salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        return u < np.where(np.asarray(treated, dtype=bool), p1, p0)

    def past_campaign(
        self,
        msisdns: Any,
        product_id: str,
        channel: str = "outbound",
        control_share: float = 0.5,
        seed: int = 0,
    ) -> pa.Table:
        """A randomised campaign over ``msisdns`` as an operator's records show it afterwards: each
        member's group (``treated`` true = contacted, else held out as control, drawn with
        ``control_share``) and whether they took the product in the window (``took``)."""
        import pyarrow as pa

        if not 0 < control_share < 1:
            raise ValueError(f"control_share must be between 0 and 1, got {control_share}")
        ms = [str(m) for m in msisdns]
        key = np.array([int(m) for m in ms], dtype=np.uint64)
        u = (_splitmix(key ^ np.uint64(seed * 7_777 + 3)) >> np.uint64(11)).astype(np.float64) / float(
            1 << 53
        )
        treated = u >= control_share
        took = self.takes_up(ms, product_id, channel, treated, seed=seed)
        return pa.table({"msisdn": pa.array(ms), "treated": pa.array(treated), "took": pa.array(took)})


# The planted campaign effect (issue 19 §4). Self-service buyers answer an app invitation at
# ≥ 0.12 (the young, mostly: app response 0.06 × 3 for the under-35s, lognormal noise); they take
# 60% of what they like unprompted within a window, everyone else 5%. A contact engages with 4 × the
# channel's response (outbound 0.08 → 0.32; capped at 1) and moves self-service buyers a fifth as
# much. Sleeping dogs: complaint-prone, or a churn probability ≥ 0.10 (about twice the mean);
# contacted, they keep 40% of the take-up they would have had. With these a data-pack offer is
# taken by ~4-5% of those called and ~2-3% of a control group, a targeted outbound campaign's range.
ORGANIC_SELF_SERVICE = 0.6
ORGANIC_OTHER = 0.05
CONTACT_GAIN = 4.0
SELF_SERVICE_APP = 0.12
SELF_SERVICE_PERSUADABILITY = 0.2
SLEEPING_DOG_CHURN = 0.10
SLEEPING_DOG_KEEP = 0.4
