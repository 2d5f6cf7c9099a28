"""Uplift trainer and its measures: Qini by hand, a planted heterogeneous effect recovered, bad input refused."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tagcloud.models.propensity import PropensityError, score, train
from tagcloud.models.uplift import (
    qini_coefficient,
    qini_curve,
    score_uplift,
    train_uplift,
    uplift_at,
)


def test_qini_curve_by_hand() -> None:
    # ranked: (t=1, y=1), (t=0, y=0), (t=1, y=0), (t=0, y=1)
    uplift = np.array([0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 0, 0, 1])
    t = np.array([1, 0, 1, 0])
    x, q = qini_curve(uplift, y, t)
    assert x.tolist() == [0, 1, 2, 3, 4]
    # after 1: 1 - 0 * (1/0 -> 0) = 1; after 2: 1 - 0 * 1 = 1; after 3: 1 - 0 * 2 = 1; after 4: 1 - 1 * 1 = 0
    assert q.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    # ties are one cut: the first two together
    x2, q2 = qini_curve(np.array([0.5, 0.5, 0.2, 0.1]), y, t)
    assert x2.tolist() == [0, 2, 3, 4] and q2.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_qini_coefficient_perfect_random_and_reversed() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    t = rng.random(n) < 0.5
    tau = np.where(rng.random(n) < 0.5, 0.2, -0.05)
    y = rng.random(n) < 0.1 + t * tau
    assert qini_coefficient(y * t - y * (1 - t), y, t) == pytest.approx(1.0)
    assert qini_coefficient(tau, y, t) > 0.1
    assert abs(qini_coefficient(rng.random(n), y, t)) < 0.1
    assert qini_coefficient(-tau, y, t) < -0.1
    # uplift at k: the action − control rate among the top share
    assert uplift_at(tau, y, t, float((tau > 0).mean())) == pytest.approx(
        y[(tau > 0) & t].mean() - y[(tau > 0) & ~t].mean(), abs=1e-12
    )


def _campaign(n: int = 8000, seed: int = 1) -> tuple[pa.Table, np.ndarray]:
    """Sure things (young app users: buy anyway, contact adds nothing), persuadables (older: the
    contact doubles their rate) and sleeping dogs (complainers: the contact halves it)."""
    rng = np.random.default_rng(seed)
    young = rng.random(n) < 0.4
    complaints = rng.poisson(0.15, n)
    usage = rng.gamma(2.0, 1.0, n)
    like = 1 / (1 + np.exp(-(usage - 2)))
    p0 = like * np.where(young, 0.5, 0.05)
    p1 = np.where(young, p0 + 0.02 * like, p0 + 0.4 * like)
    p1 = np.where(complaints > 0, 0.4 * p0, p1)
    t = rng.random(n) < 0.5
    y = rng.random(n) < np.where(t, p1, p0)
    table = pa.table(
        {
            "msisdn": pa.array([f"1390000{i:04d}" for i in range(n)]),
            "age_band": pa.array(np.where(young, "18-24", "45-54")),
            "complaints": pa.array(complaints),
            "usage": pa.array(usage),
            "treated": pa.array(t),
            "took": pa.array(np.where(y, "yes", "no")),
        }
    )
    return table, p1 - p0


@pytest.mark.parametrize("learner", ["two_model", "class_transformation"])
def test_uplift_finds_the_persuadables_a_response_model_misses(learner: str) -> None:
    table, _ = _campaign(seed=1)
    fresh, tau = _campaign(seed=2)
    up = train_uplift(table, "treated", "took", name="uplift_x", learner=learner, folds=3)
    assert up.rows == 8000 and 3800 < up.treated < 4200 and up.qini > 0.2
    assert up.scores.column_names == ["msisdn", "uplift_x_score", "uplift_x_decile"]
    s = score_uplift(up, fresh.drop_columns(["treated", "took"]))
    contacted = table.filter(pa.array(table.column("treated").to_numpy(zero_copy_only=False)))
    resp = train(contacted.drop_columns(["treated"]), "took", name="r", folds=3, max_depth=3)
    r = score(resp, fresh)
    k = len(tau) // 5
    by_uplift, by_response = np.argsort(-s)[:k], np.argsort(-r)[:k]
    # the uplift ranking gains far more of the planted effect and avoids the sleeping dogs
    assert tau[by_uplift].sum() > 1.3 * tau[by_response].sum()
    assert (tau[by_uplift] < 0).mean() < 0.02


def test_bad_input_is_named() -> None:
    table, _ = _campaign(n=400)
    with pytest.raises(PropensityError, match="unknown uplift learner"):
        train_uplift(table, "treated", "took", learner="forest")
    with pytest.raises(PropensityError, match="different columns"):
        train_uplift(table, "took", "took")
    with pytest.raises(PropensityError, match="not a yes/no label"):
        train_uplift(table, "age_band", "took")
    few = table.append_column("never", pa.array(np.zeros(400, bool)))
    with pytest.raises(PropensityError, match="only one class"):
        train_uplift(few, "treated", "never")
    control_took = table.column("took").to_numpy(zero_copy_only=False)
    t = table.column("treated").to_numpy(zero_copy_only=False)
    rare = table.set_column(5, "took", pa.array(np.where(t, control_took, "no")))
    with pytest.raises(PropensityError, match="control took 0"):
        train_uplift(rare, "treated", "took")
