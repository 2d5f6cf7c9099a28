"""Do good quick points beat weak ones? Each point's group (its condition, counted by the audience
engine) against the simulator's planted acceptance of its first product: the group's mean P(accept)
over the province's, for subscribers who do not hold the product yet (the simulator plants no
acceptance for holders). An evaluation tool, like ``models evaluate``: it reads the simulator's
ground truth; the wiki and the knowledge tags never do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tagcloud.audience.query import AudienceEngine


@dataclass(frozen=True)
class PointResult:
    title: str
    planted: str
    product_id: str
    group: int
    group_acceptance: float  # mean planted P(accept) of the group (SMS offer)
    province_acceptance: float
    lift: float | None  # group / province (None: empty group)


def evaluate_points(
    engine: AudienceEngine, truth_dir: Path | str, points: Sequence[Mapping[str, Any]], channel: str = "sms"
) -> list[PointResult]:
    """Lift of each point's group in planted acceptance of its first product."""
    from pyroaring import BitMap

    from tagcloud.sim.truth import GroundTruth

    truth = GroundTruth.load(truth_dir)
    alive = engine.members("TRUE")
    ids = np.frombuffer(alive.to_array(), dtype=np.uint32)
    msisdn = np.asarray(engine.index.dictionary.msisdn_by_id[ids]).astype(np.int64)
    known = np.array([int(m) in truth.index for m in msisdn.tolist()])
    ids, msisdn = ids[known], msisdn[known]
    out = []
    cache: dict[str, np.ndarray] = {}
    for p in points:
        product = str(p["products"][0]["product_id"])
        if product not in cache:
            cache[product] = truth.acceptance_probability(msisdn.tolist(), product, channel)
        prob = cache[product]
        in_group = np.isin(
            ids, np.frombuffer(BitMap(engine.members(str(p["condition"]))).to_array(), dtype=np.uint32)
        )
        province = float(prob.mean()) if len(prob) else 0.0
        g = float(prob[in_group].mean()) if in_group.any() else 0.0
        out.append(
            PointResult(
                str(p["title"]),
                str(p.get("planted") or ""),
                product,
                int(in_group.sum()),
                g,
                province,
                g / province if in_group.any() and province > 0 else None,
            )
        )
    return out


def summary(results: Sequence[PointResult]) -> dict[str, float]:
    """Median lift of the good and the weak points (points with an empty group left out)."""
    out = {}
    for label in ("good", "weak"):
        lifts = [r.lift for r in results if r.planted == label and r.lift is not None]
        out[label] = float(np.median(lifts)) if lifts else float("nan")
    return out
