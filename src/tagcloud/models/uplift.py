"""Uplift models: whom to contact because the contact changes what they do (issue 19 §4).

A response (propensity) model ranks people by P(buys | contacted); it picks "sure things" who would
have bought anyway and can wake "sleeping dogs" whom a contact puts off. An uplift model ranks by
the *difference* the contact makes, P(buys | contacted) − P(buys | not contacted), learned from a
past campaign whose members were split at random into contacted (action) and held-out (control).

In: an attribute table (as for :mod:`tagcloud.models.propensity`) with a treatment column (1 =
contacted, 0 = control; the same label forms as the propensity trainer) and an outcome column (took
the offer in the response window). Learners:

* ``two_model`` (T-learner): one gradient-boosting classifier on the action group, one on the control
  group; uplift = P_action(x) − P_control(x).
* ``class_transformation`` (Jaskowski & Jaroszewicz 2012): Z = 1 when (contacted and took) or
  (control and did not take); with action and control weighted to equal size, uplift = 2 P(Z=1|x) − 1.

Out-of-fold uplift scores give the Qini coefficient (Radcliffe 2007; normalised as scikit-uplift's
``qini_auc_score``: the area between the model's Qini curve and the random line over that of the
perfect ordering) and uplift at k (action rate − control rate among the top k share). Scores are
written as ``msisdn, uplift_<offer>_score, uplift_<offer>_decile`` (the ``uplift_<offer>`` model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.models.propensity import PropensityError, _labels, _matrix, categories_of, deciles

if TYPE_CHECKING:
    import pyarrow as pa

LEARNERS = ("two_model", "class_transformation")

# Trainer settings (fitted on the dev province at 20,000 subscribers: shallow trees and large
# leaves, because an uplift is a difference of two small rates and deep trees learn its noise).
UPLIFT_TRAINER: dict[str, Any] = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_depth": 3,
    "min_samples_leaf": 100,
}


def qini_curve(uplift: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: for each cut of the ranking (ties kept together), the number ranked so far and
    the incremental responses among them, action responders − control responders × (action ÷ control
    counts so far). Starts at (0, 0)."""
    uplift, y, t = np.asarray(uplift, float), np.asarray(y, float), np.asarray(t, float)
    order = np.argsort(-uplift, kind="stable")
    u, y, t = uplift[order], y[order], t[order]
    cuts = np.r_[np.flatnonzero(np.diff(u)), len(u) - 1]
    n_t = np.cumsum(t)[cuts]
    n_c = cuts + 1 - n_t
    y_t = np.cumsum(y * t)[cuts]
    y_c = np.cumsum(y * (1 - t))[cuts]
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    return np.r_[0, cuts + 1].astype(float), np.r_[0.0, y_t - y_c * ratio]


def qini_coefficient(uplift: np.ndarray, y: np.ndarray, t: np.ndarray) -> float:
    """Area between the Qini curve and the random line, over the same for the perfect ordering
    (responders in the action group first, responders in the control group last): 1 = perfect,
    0 = random, < 0 worse than random."""
    y, t = np.asarray(y, float), np.asarray(t, float)
    x, q = qini_curve(uplift, y, t)
    xp, qp = qini_curve(y * t - y * (1 - t), y, t)
    base = np.trapezoid([0.0, qp[-1]], [0.0, xp[-1]])
    perfect = np.trapezoid(qp, xp) - base
    if perfect == 0:
        return 0.0
    return float((np.trapezoid(q, x) - base) / perfect)


def uplift_at(uplift: np.ndarray, y: np.ndarray, t: np.ndarray, share: float = 0.2) -> float:
    """Action response rate − control response rate among the top ``share`` by uplift."""
    y, t = np.asarray(y, float), np.asarray(t, bool)
    k = max(1, round(len(y) * share))
    top = np.argsort(-np.asarray(uplift, float), kind="stable")[:k]
    yt, yc = y[top][t[top]], y[top][~t[top]]
    if not len(yt) or not len(yc):
        raise PropensityError(f"the top {share:.0%} holds no {'action' if not len(yt) else 'control'} member")
    return float(yt.mean() - yc.mean())


@dataclass
class UpliftResult:
    """What an uplift training run produced."""

    name: str
    learner: str
    rows: int
    treated: int
    action_rate: float
    control_rate: float
    features: list[str]
    qini_folds: list[float]
    uplift_top20: float  # out of fold, action − control rate in the top 20%
    oof_uplift: np.ndarray = field(repr=False)
    scores: Any = field(repr=False)  # pyarrow.Table: id, <name>_score, <name>_decile
    models: tuple[Any, ...] = field(default=(), repr=False)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @property
    def qini(self) -> float:
        return float(np.mean(self.qini_folds))

    def summary(self) -> str:
        return (
            f"{self.name} ({self.learner}): {self.rows:,} rows, {self.treated:,} contacted "
            f"({self.action_rate:.2%} took the offer) vs {self.rows - self.treated:,} control "
            f"({self.control_rate:.2%}); CV Qini {self.qini:.3f} "
            f"(folds {', '.join(f'{q:.3f}' for q in self.qini_folds)}); "
            f"uplift in the top 20% {self.uplift_top20:+.2%} (all: {self.action_rate - self.control_rate:+.2%})"
        )


def _classifier(cat: list[bool], seed: int, settings: dict[str, Any]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        **settings,
        categorical_features=np.array(cat, dtype=bool) if any(cat) else None,
        early_stopping=False,
        random_state=seed,
    )


def _fit(
    learner: str,
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    cat: list[bool],
    seed: int,
    settings: dict[str, Any],
) -> tuple[Any, ...]:
    if learner == "two_model":
        return (
            _classifier(cat, seed, settings).fit(x[t == 1], y[t == 1]),
            _classifier(cat, seed, settings).fit(x[t == 0], y[t == 0]),
        )
    z = (y == t).astype(np.int8)  # took and contacted, or did not take and held out
    share = t.mean()
    w = np.where(t == 1, 0.5 / share, 0.5 / (1 - share))  # action and control count alike
    return (_classifier(cat, seed, settings).fit(x, z, sample_weight=w),)


def _predict(learner: str, models: tuple[Any, ...], x: np.ndarray) -> np.ndarray:
    if learner == "two_model":
        return np.asarray(models[0].predict_proba(x)[:, 1] - models[1].predict_proba(x)[:, 1])
    return np.asarray(2 * models[0].predict_proba(x)[:, 1] - 1)


def train_uplift(
    table: pa.Table,
    treatment: str,
    outcome: str,
    *,
    name: str = "uplift",
    learner: str = "two_model",
    id_column: str = "msisdn",
    features: list[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    threads: int = 1,
    **settings: Any,
) -> UpliftResult:
    """Cross-validate (folds stratified by group × outcome) and fit an uplift model; score every row.

    ``settings`` override :data:`UPLIFT_TRAINER` (``max_iter``, ``learning_rate``, ``max_depth``,
    ``min_samples_leaf``)."""
    import pyarrow as pa
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    if learner not in LEARNERS:
        raise PropensityError(f"unknown uplift learner {learner!r}; have: {', '.join(LEARNERS)}")
    if id_column not in table.column_names:
        raise PropensityError(f"id column {id_column!r} is not in the table (columns: {table.column_names})")
    if treatment == outcome:
        raise PropensityError("the treatment and the outcome must be different columns")
    feats = features or [c for c in table.column_names if c not in (id_column, treatment, outcome)]
    missing = [f for f in feats if f not in table.column_names]
    if missing:
        raise PropensityError(f"attribute columns not in the table: {missing}")
    if not feats:
        raise PropensityError("no attribute columns to learn from")
    t = _labels(table, treatment).astype(np.int64)
    y = _labels(table, outcome).astype(np.int64)
    cells = 2 * t + y
    smallest = min(int((cells == c).sum()) for c in range(4))
    if smallest < folds:
        raise PropensityError(
            f"one of (action, control) × (took, did not) has only {smallest} rows: too few for "
            f"{folds}-fold cross-validation (action took {int(((t == 1) & (y == 1)).sum())}, "
            f"control took {int(((t == 0) & (y == 1)).sum())})"
        )
    vocab = categories_of(table, feats)
    x, cat = _matrix(table, feats, vocab)
    params = {**UPLIFT_TRAINER, **settings}
    oof = np.zeros(len(y))
    qinis: list[float] = []
    with threadpool_limits(limits=threads, user_api="openmp"):
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, cells):
            m = _fit(learner, x[tr], y[tr], t[tr], cat, seed, params)
            oof[te] = _predict(learner, m, x[te])
            qinis.append(qini_coefficient(oof[te], y[te], t[te]))
        final = _fit(learner, x, y, t, cat, seed, params)
        score = _predict(learner, final, x)
    scores = pa.table(
        {
            id_column: table.column(id_column),
            f"{name}_score": pa.array(score, pa.float64()),
            f"{name}_decile": pa.array(deciles(score), pa.int8()),
        }
    )
    return UpliftResult(
        name=name,
        learner=learner,
        rows=len(y),
        treated=int(t.sum()),
        action_rate=float(y[t == 1].mean()),
        control_rate=float(y[t == 0].mean()),
        features=feats,
        qini_folds=qinis,
        uplift_top20=uplift_at(oof, y, t, 0.2),
        oof_uplift=oof,
        scores=scores,
        models=final,
        categories=vocab,
    )


def score_uplift(result: UpliftResult, table: pa.Table) -> np.ndarray:
    """Uplift of the fitted model for another table with the same attribute columns."""
    missing = [f for f in result.features if f not in table.column_names]
    if missing:
        raise PropensityError(f"the table lacks the model's attribute columns {missing}")
    x, _ = _matrix(table, result.features, result.categories)
    return _predict(result.learner, result.models, x)
