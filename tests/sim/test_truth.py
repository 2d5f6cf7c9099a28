"""Reloading the ground truth and answering offers from the latent propensities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tagcloud.sim.catalogue import MARKETABLE
from tagcloud.sim.population import CHANNELS
from tagcloud.sim.truth import GroundTruth


@pytest.fixture(scope="module")
def truth(small_province: Path) -> GroundTruth:
    return GroundTruth.load(small_province)


def test_truth_covers_every_subscriber(truth: GroundTruth, small_province: Path) -> None:
    subs = pq.read_table(small_province / "subscribers" / "subscribers.parquet")
    assert sorted(subs.column("msisdn").to_pylist()) == sorted(truth.subscribers.column("msisdn").to_pylist())
    assert truth.propensity.shape == (2000, len(MARKETABLE))
    assert truth.channel_response.shape == (2000, len(CHANNELS))
    assert ((truth.propensity >= 0) & (truth.propensity <= 1)).all()
    for col in ("persona", "rural_type", "school_type", "churn", "dual_sim", "influence", "value_tier"):
        assert col in truth.subscribers.column_names


def test_accepts_is_deterministic_and_follows_the_probability(truth: GroundTruth) -> None:
    nums = truth.subscribers.column("msisdn").to_pylist()
    a = truth.accepts(nums, "VAS_CWT", "outbound", seed=1)
    b = truth.accepts(nums, "VAS_CWT", "outbound", seed=1)
    assert (a == b).all()
    # one subscriber's answer does not depend on the batch
    assert truth.accepts(nums[5:6], "VAS_CWT", "outbound", seed=1)[0] == a[5]
    # over many seeds, the acceptance rate matches the latent probability
    p = truth.acceptance_probability(nums, "VAS_CWT", "outbound")
    rates = np.mean([truth.accepts(nums, "VAS_CWT", "outbound", seed=s).mean() for s in range(200)])
    assert abs(rates - p.mean()) < 0.25 * p.mean() + 1e-4
    # car owners accept the car service far more often than others
    car = truth.column("car_owner").astype(bool)
    assert p[car].mean() > 3 * p[~car].mean()


def test_bad_questions_get_named_errors(truth: GroundTruth, tmp_path: Path) -> None:
    nums = truth.subscribers.column("msisdn").to_pylist()[:3]
    with pytest.raises(KeyError, match="not a marketable product"):
        truth.accepts(nums, "NOPE", "sms")
    with pytest.raises(KeyError, match="unknown channel"):
        truth.accepts(nums, "VAS_CWT", "fax")
    with pytest.raises(KeyError, match="not a subscriber"):
        truth.accepts(["13000000000"], "VAS_CWT", "sms")
    with pytest.raises(FileNotFoundError, match="not a simulator export"):
        GroundTruth.load(tmp_path)
