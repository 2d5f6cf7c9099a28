"""Reload the ground truth of a simulator export and let the simulated subscribers answer offers.

    truth = GroundTruth.load(DIR)
    truth.persona_of(["13812345678"])            # latent persona
    truth.accepts(msisdns, "MB_TXV", "sms", seed=1)  # does each accept that offer via that channel?

Acceptance is drawn from the latent probabilities: P(accept) = response(channel) × propensity(product)
— the chance to engage with an offer on that channel times the chance to take the product once
engaged. The draw is a hash of (msisdn, product, channel, seed), so one subscriber's answer does not
depend on who else is in the batch and the same question always gets the same answer.
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
