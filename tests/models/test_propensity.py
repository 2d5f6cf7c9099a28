"""Propensity trainer: learns a planted signal, finds nothing in noise, refuses bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tagcloud.models.propensity import (
    PropensityError,
    deciles,
    join_label,
    lift_at,
    train,
    write_model_output,
)


def _table(n: int = 3000, seed: int = 1, signal: bool = True) -> pa.Table:
    rng = np.random.default_rng(seed)
    arpu = rng.gamma(2.0, 40.0, n)
    complaints = rng.poisson(0.3, n)
    brand = rng.choice(["gotone", "mzone", "easyown"], n)
    tenure = rng.integers(1, 120, n).astype(float)
    tenure[rng.random(n) < 0.1] = np.nan  # missing values are allowed as they are
    logit = (
        -2.5
        + 1.2 * complaints
        - 0.02 * (arpu - 80)
        + 1.0 * (brand == "easyown")
        - 0.01 * np.nan_to_num(tenure)
    )
    p = 1 / (1 + np.exp(-logit)) if signal else np.full(n, 0.15)
    churn = rng.random(n) < p
    return pa.table(
        {
            "msisdn": [f"138{i:08d}" for i in range(n)],
            "arpu": arpu,
            "complaints": pa.array(complaints, pa.int32()),
            "brand": brand,
            "tenure_m": tenure,
            "is_group": rng.random(n) < 0.2,
            "churn": churn,
        }
    )


def test_learns_planted_signal_and_writes_scores(tmp_path: Path) -> None:
    r = train(_table(), "churn", name="churn_risk", folds=3, max_iter=60)
    assert r.auc > 0.75
    assert r.lift_top_decile > 2.0
    assert set(r.features) == {"arpu", "complaints", "brand", "tenure_m", "is_group"}
    assert r.scores.column_names == ["msisdn", "churn_risk_score", "churn_risk_decile"]
    path = write_model_output(r.scores, tmp_path, "churn_risk")
    assert path == tmp_path / "models" / "churn_risk.parquet"
    back = pq.read_table(path)
    assert back.num_rows == 3000
    d = np.asarray(back.column("churn_risk_decile"))
    assert d.min() == 1 and d.max() == 10


def test_noise_gives_chance_auc() -> None:
    r = train(_table(signal=False), "churn", folds=3, max_iter=30)
    assert 0.4 < r.auc < 0.6
    assert 0.5 < r.lift_top_decile < 1.6


def test_lift_and_deciles() -> None:
    scores = np.arange(100, dtype=float)
    labels = (scores >= 90).astype(np.int8)  # the top 10% are all the positives
    assert lift_at(scores, labels) == pytest.approx(10.0)
    d = deciles(scores)
    assert d[99] == 1 and d[0] == 10 and np.bincount(d)[1:].tolist() == [10] * 10


def test_bad_input_named() -> None:
    t = _table(200)
    with pytest.raises(PropensityError, match="label column 'nope'"):
        train(t, "nope")
    with pytest.raises(PropensityError, match="only one class"):
        train(t.set_column(6, "churn", pa.array([False] * 200)), "churn")
    with pytest.raises(PropensityError, match="must be 0/1"):
        train(t.set_column(6, "churn", pa.array([2] * 100 + [0] * 100)), "churn")
    with pytest.raises(PropensityError, match="attribute columns not in the table"):
        train(t, "churn", features=["arpu", "colour"])
    with pytest.raises(PropensityError, match="type"):
        train(t.append_column("tags", pa.array([[1]] * 200)), "churn")


def test_join_label_from_another_table() -> None:
    attrs = _table(50).drop_columns(["churn"])
    labels = pa.table(
        {"msisdn": [f"138{i:08d}" for i in range(0, 50, 2)], "took_offer": [True, False] * 12 + [True]}
    )
    joined = join_label(attrs, labels, "took_offer")
    assert joined.num_rows == 25 and "took_offer" in joined.column_names
    with pytest.raises(PropensityError, match="no column 'x'"):
        join_label(attrs, labels, "x")


def test_label_from_a_built_tag(tmp_path: Path) -> None:
    from tagcloud.models.propensity import tag_labels

    with pytest.raises(PropensityError, match="run 'tagcloud build' first"):
        tag_labels(tmp_path, "is_student")
    wide = tmp_path / "wide" / "current"
    wide.mkdir(parents=True)
    pq.write_table(
        pa.table({"msisdn": ["1", "2", "3"], "took_5g": [True, None, False], "brand": ["a", "b", "c"]}),
        wide / "part-0.parquet",
    )
    got = tag_labels(tmp_path, "took_5g").to_pydict()
    assert got == {"msisdn": ["1", "2", "3"], "took_5g": [True, False, False]}
    with pytest.raises(PropensityError, match="not a flag"):
        tag_labels(tmp_path, "brand")
    with pytest.raises(PropensityError, match="not a column"):
        tag_labels(tmp_path, "nope")


@pytest.mark.parametrize(
    ("yes", "no"),
    [
        ("1", "0"),
        ("yes", "no"),
        ("Y", "N"),
        ("TRUE", "false"),
        ("是", "否"),
        ("churn", "active"),
        (" Yes ", "no "),
    ],
)
def test_label_forms_people_have(yes: str, no: str) -> None:
    from tagcloud.models.propensity import _labels

    t = pa.table({"msisdn": ["a", "b", "c"], "y": [yes, no, yes]})
    assert _labels(t, "y").tolist() == [1, 0, 1]
    d = pa.table({"msisdn": ["a", "b", "c"], "y": pa.array([yes, no, yes]).dictionary_encode()})
    assert _labels(d, "y").tolist() == [1, 0, 1]


def test_unknown_label_forms_are_named() -> None:
    from tagcloud.models.propensity import _labels

    with pytest.raises(PropensityError, match=r"not a yes/no label: \['maybe'\].*accepted: 1/yes"):
        _labels(pa.table({"y": ["yes", "maybe", "no"]}), "y")
    with pytest.raises(PropensityError, match="only one class"):
        _labels(pa.table({"y": ["是", "是"]}), "y")
    with pytest.raises(PropensityError, match="a label is 0/1"):
        _labels(pa.table({"y": pa.array([dt.date(2026, 1, 1)] * 2)}), "y")


def test_text_codes_follow_the_training_vocabulary_not_the_row_order() -> None:
    """A later table whose text values first appear in another order (or lack one) is coded alike:
    the same rows score the same however the table is ordered, and an unseen value is missing."""
    from tagcloud.models.propensity import score

    t = _table()
    r = train(t, "churn", name="c", folds=3, max_iter=60)
    first = t.column("brand")[0].as_py()
    other = next(b for b in ("mzone", "gotone", "easyown") if b != first)
    order = np.argsort(np.array(t.column("brand").to_pylist()) != other, kind="stable")  # `other` first
    shuffled = t.take(pa.array(order))
    assert shuffled.column("brand")[0].as_py() == other
    assert np.allclose(score(r, shuffled), score(r, t)[order])
    odd = t.set_column(t.column_names.index("brand"), "brand", pa.array(["prepaid_x"] * t.num_rows))
    assert np.isfinite(score(r, odd)).all()


def test_calibration_makes_scores_probabilities_judged_out_of_fold() -> None:
    """Boosting with many deep trees overfits into over-confident scores; isotonic and Platt
    calibration, fitted out of fold, bring the Brier score and ECE down and keep the ranking."""
    from tagcloud.models.propensity import expected_calibration_error, out_of_time, reliability, score

    t, later = _table(n=3000), _table(n=3000, seed=9)
    kw = {"name": "c", "folds": 3, "max_iter": 120, "learning_rate": 0.5, "min_samples_leaf": 5}
    raw = train(t, "churn", **kw)  # type: ignore[arg-type]
    raw_later = expected_calibration_error(
        score(raw, later), np.array(later.column("churn").to_pylist(), float)
    )
    for method in ("isotonic", "platt"):
        r = train(t, "churn", calibration=method, **kw)  # type: ignore[arg-type]
        c = r.calibration
        assert c is not None and c.method == method
        assert c.ece < c.ece_raw and c.brier < c.brier_raw and c.ece < 0.03
        assert r.auc == raw.auc  # calibration never changes the ranking figures
        oot = out_of_time(r, later, "churn")
        assert oot.auc == out_of_time(raw, later, "churn").auc
        assert oot.ece is not None and oot.ece < raw_later  # the later month's scores are probabilities too
        p = score(r, later)
        assert p.min() >= 0 and p.max() <= 1
        assert "Brier" in r.summary() and "ECE" in oot.summary()
    # the reliability table and ECE by hand: two bins, scores 0.1 (rate 0) and 0.9 (rate 1)
    p, y = np.array([0.1, 0.1, 0.9, 0.9]), np.array([0, 0, 1, 1])
    assert reliability(p, y, bins=2) == [(2, 0.1, 0.0), (2, 0.9, 1.0)]
    assert expected_calibration_error(p, y, bins=2) == pytest.approx(0.1)
    with pytest.raises(PropensityError, match="unknown calibration"):
        train(t, "churn", folds=3, max_iter=5, calibration="beta")


def test_drivers_name_the_planted_attributes_with_their_direction(tmp_path: Path) -> None:
    """Complaints raise the planted churn, ARPU lowers it; tenure_m matters little and the random
    group flag nothing: permutation importance out of fold ranks them so and says which way."""
    import json

    from tagcloud.models.propensity import write_drivers

    r = train(_table(), "churn", name="churn_risk", folds=3, max_iter=60, drivers=5)
    names = [d.feature for d in r.drivers]
    assert names[:2] == ["complaints", "arpu"] or names[:2] == ["arpu", "complaints"]
    by = {d.feature: d for d in r.drivers}
    assert by["complaints"].direction > 0 and by["arpu"].direction < 0
    assert by["brand"].direction is None  # text: no direction
    assert by["is_group"].auc_drop < 0.01 < by["complaints"].auc_drop
    body = json.loads(write_drivers(r, tmp_path).read_text(encoding="utf-8"))
    assert body["model"] == "churn_risk" and body["drivers"][0]["feature"] == names[0]
    assert "top drivers" in r.summary()
