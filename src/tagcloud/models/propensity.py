"""Generic propensity trainer: any attribute table plus a label → gradient boosting, scores as tags.

In: an Arrow table (or anything DuckDB can read) with an id column (``msisdn``), attribute columns
(numbers, booleans, text codes) and a 0/1 label column. Out: cross-validated AUC per fold, lift at
the top decile of out-of-fold scores (how many times the base rate the best-scored 10% respond),
and a score for every subscriber from a model fitted on all rows, written to
``WAREHOUSE/models/<name>.parquet`` as ``msisdn, <name>_score, <name>_decile`` (decile 1 = highest).

The model is scikit-learn's HistGradientBoostingClassifier: it takes missing values as they are
and text codes as native categories, so attribute tables need no imputation or one-hot encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


class PropensityError(ValueError):
    """Input a propensity model cannot be trained on; the message says which column and why."""


@dataclass
class PropensityResult:
    """What a training run produced."""

    name: str
    rows: int
    positives: int
    features: list[str]
    auc_folds: list[float]
    lift_top_decile: float
    oof_scores: np.ndarray = field(repr=False)
    scores: Any = field(repr=False)  # pyarrow.Table: id, <name>_score, <name>_decile
    model: Any = field(default=None, repr=False)  # the fitted classifier (for scoring other rows)
    categories: dict[str, list[str]] = field(default_factory=dict)  # text features' vocabularies
    calibration: Calibration | None = None  # out-of-fold reliability, and the calibrator scores pass through
    drivers: list[Driver] = field(default_factory=list)  # the top attributes, most important first

    @property
    def auc(self) -> float:
        """Mean cross-validated AUC."""
        return float(np.mean(self.auc_folds))

    @property
    def base_rate(self) -> float:
        return self.positives / self.rows if self.rows else 0.0

    def summary(self) -> str:
        text = (
            f"{self.name}: {self.rows:,} rows, {self.positives:,} positive ({self.base_rate:.1%}); "
            f"CV AUC {self.auc:.3f} (folds {', '.join(f'{a:.3f}' for a in self.auc_folds)}); "
            f"lift at top decile {self.lift_top_decile:.2f}"
        )
        if self.calibration is not None:
            text += "\n" + self.calibration.summary()
        if self.drivers:
            text += "\ntop drivers (AUC lost when shuffled, out of fold): " + "; ".join(
                d.text() for d in self.drivers
            )
        return text


@dataclass
class Driver:
    """An attribute's weight in a model: the out-of-fold AUC lost when its values are shuffled
    (permutation importance on the folds each model never saw), and the direction of its effect
    (Spearman correlation of the attribute with the score; none for text attributes)."""

    feature: str
    auc_drop: float
    direction: float | None

    def text(self) -> str:
        arrow = "" if self.direction is None else (" ↑" if self.direction > 0 else " ↓")
        return f"{self.feature}{arrow} {self.auc_drop:.3f}"

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "auc_drop": self.auc_drop, "direction": self.direction}


CALIBRATIONS = ("isotonic", "platt")


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE over ``bins`` equal-count bins of the scores: Σ (bin size / n) × |mean score − positive rate|.
    Equal-count bins, because with a rare label most equal-width bins above the base rate are empty."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    order = np.argsort(p, kind="stable")
    return float(
        sum(len(b) / len(p) * abs(p[b].mean() - y[b].mean()) for b in np.array_split(order, bins) if len(b))
    )


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[tuple[int, float, float]]:
    """(rows, mean score, positive rate) of each equal-count bin, lowest scores first."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    order = np.argsort(p, kind="stable")
    return [(len(b), float(p[b].mean()), float(y[b].mean())) for b in np.array_split(order, bins) if len(b)]


@dataclass
class Calibration:
    """Scores turned into probabilities: a calibrator fitted on the out-of-fold scores (as
    scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` does), judged on folds it never saw."""

    method: str
    brier_raw: float  # out of fold, the booster's own probabilities
    brier: float  # out of fold, calibrated by a calibrator fitted on the other folds
    ece_raw: float
    ece: float
    table: list[tuple[int, float, float]]  # reliability of the calibrated out-of-fold scores
    calibrator: Any = field(default=None, repr=False)

    def apply(self, p: np.ndarray) -> np.ndarray:
        return _apply_calibrator(self.method, self.calibrator, p)

    def summary(self) -> str:
        rows = "; ".join(f"{m:.3f}→{r:.3f}" for _, m, r in self.table)
        return (
            f"calibration ({self.method}, out of fold): Brier {self.brier_raw:.4f} → {self.brier:.4f}, "
            f"ECE {self.ece_raw:.4f} → {self.ece:.4f}; reliability by tenth of scores (mean score→rate): {rows}"
        )


def _fit_calibrator(method: str, p: np.ndarray, y: np.ndarray) -> Any:
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
    from sklearn.linear_model import LogisticRegression

    # Platt scaling on the log-odds of the score (a sigmoid of the booster's own margin)
    return LogisticRegression(C=1e6).fit(_logit(p)[:, None], y)


def _apply_calibrator(method: str, c: Any, p: np.ndarray) -> np.ndarray:
    if method == "isotonic":
        return np.asarray(c.predict(p), float)
    return np.asarray(c.predict_proba(_logit(p)[:, None])[:, 1], float)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def calibrate(oof: np.ndarray, y: np.ndarray, folds: list[np.ndarray], method: str) -> Calibration:
    """Cross-fitted calibration of out-of-fold scores: each fold calibrated by a calibrator fitted on
    the other folds' scores (so the figures are held out); the returned calibrator is fitted on all."""
    if method not in CALIBRATIONS:
        raise PropensityError(f"unknown calibration {method!r}; have: {', '.join(CALIBRATIONS)} (or none)")
    cal = np.zeros(len(y))
    for test_idx in folds:
        rest = np.setdiff1d(np.arange(len(y)), test_idx)
        cal[test_idx] = _apply_calibrator(method, _fit_calibrator(method, oof[rest], y[rest]), oof[test_idx])
    brier = lambda p: float(np.mean((p - y) ** 2))  # noqa: E731
    return Calibration(
        method,
        brier(oof),
        brier(cal),
        expected_calibration_error(oof, y),
        expected_calibration_error(cal, y),
        reliability(cal, y),
        _fit_calibrator(method, oof, y),
    )


def lift_at(scores: np.ndarray, labels: np.ndarray, share: float = 0.1) -> float:
    """Positive rate among the top ``share`` of scores divided by the overall positive rate."""
    n = len(scores)
    k = max(1, round(n * share))
    top = np.argsort(-scores, kind="stable")[:k]
    base = labels.mean()
    return float(labels[top].mean() / base) if base > 0 else 0.0


def deciles(scores: np.ndarray) -> np.ndarray:
    """Decile of each score, 1 = the highest 10%, 10 = the lowest."""
    n = len(scores)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-scores, kind="stable")] = np.arange(n)
    return (rank * 10 // max(n, 1) + 1).astype(np.int8)


def _matrix(
    table: pa.Table, features: list[str], categories: dict[str, list[str]] | None = None
) -> tuple[np.ndarray, list[bool]]:
    """Feature matrix as float64 with text columns ordinal-coded (flagged categorical).

    A text column's code is its value's position in ``categories[name]`` (the vocabulary the model
    was trained with; an unseen value is missing), or, without one, in the column's sorted distinct
    values — never the order values happen to appear in, which differs between two tables."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cols: list[np.ndarray] = []
    categorical: list[bool] = []
    for name in features:
        col = table.column(name).combine_chunks()
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
            text = col.cast(pa.string())
            vocab = categories[name] if categories and name in categories else _vocabulary(text)
            if len(vocab) > 250:
                raise PropensityError(
                    f"column {name!r} has {len(vocab)} distinct text values; at most 250 can be a "
                    "category (group it first, or drop it)"
                )
            idx = pc.index_in(text, value_set=pa.array(vocab, pa.string()))
            cols.append(pc.cast(idx, pa.float64()).to_numpy(zero_copy_only=False))  # null → NaN
            categorical.append(True)
        elif (
            pa.types.is_boolean(t)
            or pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_decimal(t)
        ):
            cols.append(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
            categorical.append(False)
        elif pa.types.is_date(t) or pa.types.is_timestamp(t):
            # Days since the epoch: keeps order (tenure, last activity) without a calendar model.
            days = (
                pc.cast(pc.cast(col, pa.timestamp("s")), pa.int64()).to_numpy(zero_copy_only=False) / 86400.0
            )
            cols.append(days.astype(np.float64))
            categorical.append(False)
        else:
            raise PropensityError(f"column {name!r} has type {t}, which cannot be a model attribute")
    x = np.column_stack(cols) if cols else np.empty((table.num_rows, 0))
    return x, categorical


def _vocabulary(text: pa.Array) -> list[str]:
    import pyarrow.compute as pc

    return sorted(v for v in pc.unique(text).to_pylist() if v is not None)


def categories_of(table: pa.Table, features: list[str]) -> dict[str, list[str]]:
    """The sorted vocabulary of every text feature: what a model keeps to code later tables alike."""
    import pyarrow as pa

    out: dict[str, list[str]] = {}
    for name in features:
        col = table.column(name).combine_chunks()
        if (
            pa.types.is_string(col.type)
            or pa.types.is_large_string(col.type)
            or pa.types.is_dictionary(col.type)
        ):
            out[name] = _vocabulary(col.cast(pa.string()))
    return out


# The forms a yes/no label takes in the files people have (case and surrounding blanks ignored).
POSITIVE_LABELS = ("1", "yes", "y", "true", "t", "是", "churn", "churned")
NEGATIVE_LABELS = ("0", "no", "n", "false", "f", "否", "active", "stay")


def _labels(table: pa.Table, label: str) -> np.ndarray:
    """The label as 0/1: numbers 0/1, booleans, or text in :data:`POSITIVE_LABELS` /
    :data:`NEGATIVE_LABELS`; anything else is refused naming the values found."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if label not in table.column_names:
        raise PropensityError(f"label column {label!r} is not in the table (columns: {table.column_names})")
    col = table.column(label)
    if col.null_count:
        raise PropensityError(
            f"label column {label!r} has {col.null_count} missing values; drop those rows first"
        )
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type):
        text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(col, pa.string())))
        pos = pc.is_in(text, pa.array(POSITIVE_LABELS))
        neg = pc.is_in(text, pa.array(NEGATIVE_LABELS))
        unknown = pc.unique(pc.filter(text, pc.invert(pc.or_(pos, neg)))).to_pylist()
        if unknown:
            raise PropensityError(
                f"label column {label!r} has values that are not a yes/no label: {sorted(unknown)[:5]}; "
                f"accepted: {'/'.join(POSITIVE_LABELS)} for yes and {'/'.join(NEGATIVE_LABELS)} for no"
            )
        y = pos.to_numpy(zero_copy_only=False).astype(np.float64)
    elif pa.types.is_boolean(col.type) or pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        y = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    else:
        raise PropensityError(
            f"label column {label!r} is {col.type}; a label is 0/1, true/false or yes/no text"
        )
    values = set(np.unique(y).tolist())
    if not values <= {0.0, 1.0}:
        raise PropensityError(
            f"label column {label!r} must be 0/1 or true/false, found values {sorted(values)[:5]}"
        )
    if len(values) < 2:
        raise PropensityError(f"label column {label!r} has only one class; a propensity model needs both")
    return y.astype(np.int8)


def train(
    table: pa.Table,
    label: str,
    *,
    name: str = "propensity",
    id_column: str = "msisdn",
    features: list[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    max_iter: int = 200,
    learning_rate: float = 0.08,
    threads: int = 1,
    min_samples_leaf: int = 20,
    max_depth: int | None = None,
    calibration: str | None = None,
    drivers: int = 0,
) -> PropensityResult:
    """Cross-validate and fit a gradient-boosting propensity model; score every row.

    ``features`` defaults to every column except the id and the label. ``max_depth`` (default: no
    limit, up to 31 leaves) limits each tree; depth 2 keeps a rare label's model nearly additive.
    ``calibration`` ``"isotonic"`` or ``"platt"`` turns the scores into calibrated probabilities
    (:func:`calibrate`; AUC, lift and deciles are those of the booster's own scores, which the
    calibration keeps in order). ``drivers`` > 0 keeps that many top attributes (:class:`Driver`).
    """
    import pyarrow as pa
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if id_column not in table.column_names:
        raise PropensityError(f"id column {id_column!r} is not in the table (columns: {table.column_names})")
    feats = features or [c for c in table.column_names if c not in (id_column, label)]
    missing = [f for f in feats if f not in table.column_names]
    if missing:
        raise PropensityError(f"attribute columns not in the table: {missing}")
    if not feats:
        raise PropensityError("no attribute columns to learn from")
    y = _labels(table, label)
    vocab = categories_of(table, feats)
    x, cat = _matrix(table, feats, vocab)
    n_pos = int(y.sum())
    if min(n_pos, len(y) - n_pos) < folds:
        raise PropensityError(
            f"{n_pos} positives of {len(y)} rows: too few for {folds}-fold cross-validation"
        )

    def model() -> Any:
        return HistGradientBoostingClassifier(
            max_iter=max_iter,
            learning_rate=learning_rate,
            min_samples_leaf=min_samples_leaf,  # larger leaves for rare labels (a few hundred churners)
            max_depth=max_depth,
            categorical_features=np.array(cat, dtype=bool) if any(cat) else None,
            early_stopping=False,
            random_state=seed,
        )

    from threadpoolctl import threadpool_limits

    oof = np.zeros(len(y))
    aucs: list[float] = []
    fold_rows: list[np.ndarray] = []
    drops = np.zeros(len(feats))
    # One OpenMP thread: attribute tables are small, and spinning threads on a shared machine cost
    # far more than they save (measured: 50 s → a few s for 3k rows on 2 busy cores).
    with threadpool_limits(limits=threads, user_api="openmp"):
        for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
            m = model().fit(x[train_idx], y[train_idx])
            oof[test_idx] = m.predict_proba(x[test_idx])[:, 1]
            fold_rows.append(test_idx)
            aucs.append(float(roc_auc_score(y[test_idx], oof[test_idx])))
            if drivers:
                drops += _auc_drops(m, x[test_idx], y[test_idx], aucs[-1], seed) * len(test_idx) / len(y)
        final = model().fit(x, y)
        score = final.predict_proba(x)[:, 1]
    cal = calibrate(oof, y, fold_rows, calibration) if calibration else None
    scores = pa.table(
        {
            id_column: table.column(id_column),
            f"{name}_score": pa.array(cal.apply(score) if cal else score, pa.float64()),
            f"{name}_decile": pa.array(deciles(score), pa.int8()),
        }
    )
    return PropensityResult(
        name=name,
        rows=len(y),
        positives=n_pos,
        features=feats,
        auc_folds=aucs,
        lift_top_decile=lift_at(oof, y),
        oof_scores=oof,
        scores=scores,
        model=final,
        categories=vocab,
        calibration=cal,
        drivers=_drivers(feats, drops, x, cat, oof, drivers) if drivers else [],
    )


def _auc_drops(m: Any, x: np.ndarray, y: np.ndarray, auc: float, seed: int) -> np.ndarray:
    """AUC lost on (x, y) when each column in turn is shuffled (one permutation per column)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    out = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        xs = x.copy()
        xs[:, j] = xs[rng.permutation(len(xs)), j]
        out[j] = auc - roc_auc_score(y, m.predict_proba(xs)[:, 1])
    return out


def _drivers(
    feats: list[str], drops: np.ndarray, x: np.ndarray, cat: list[bool], oof: np.ndarray, top: int
) -> list[Driver]:
    from scipy.stats import spearmanr

    out = []
    for j in np.argsort(-drops, kind="stable")[:top]:
        direction = None
        ok = ~np.isnan(x[:, j])
        if not cat[j] and ok.sum() > 2 and np.ptp(x[ok, j]) > 0:
            direction = float(spearmanr(x[ok, j], oof[ok]).statistic)
        out.append(Driver(feats[j], float(drops[j]), direction))
    return out


def write_drivers(result: PropensityResult, warehouse: str | Path) -> Path:
    """``WAREHOUSE/models/<name>.drivers.json``: the model's top drivers next to its scores."""
    import json

    path = Path(warehouse) / "models" / f"{result.name}.drivers.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"model": result.name, "cv_auc": result.auc, "drivers": [d.as_dict() for d in result.drivers]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def score(result: PropensityResult, table: pa.Table) -> np.ndarray:
    """Scores of the fitted model for another table with the same attribute columns (calibrated
    probabilities when the model was trained with a calibration)."""
    p = _raw_score(result, table)
    return result.calibration.apply(p) if result.calibration is not None else p


def _raw_score(result: PropensityResult, table: pa.Table) -> np.ndarray:
    x, _ = _matrix(table, result.features, result.categories)
    return np.asarray(result.model.predict_proba(x)[:, 1])


@dataclass
class OutOfTime:
    """A fitted model scored on a later period's rows and labels (out of time)."""

    rows: int
    positives: int
    auc: float
    lift_top_decile: float
    brier: float | None = None  # of the calibrated scores, when the model is calibrated
    ece: float | None = None

    def summary(self) -> str:
        text = (
            f"out of time: {self.rows:,} rows, {self.positives:,} positive ({self.positives / self.rows:.1%}); "
            f"AUC {self.auc:.3f}; lift at top decile {self.lift_top_decile:.2f}"
        )
        if self.brier is not None and self.ece is not None:
            text += f" (calibrated: Brier {self.brier:.4f}, ECE {self.ece:.4f})"
        return text


def out_of_time(result: PropensityResult, later: pa.Table, label: str) -> OutOfTime:
    """Score a later period's attribute table (same columns) with the model trained on an earlier
    one, and measure it against that period's labels: how a deployed churn model is judged."""
    from sklearn.metrics import roc_auc_score

    missing = [f for f in result.features if f not in later.column_names]
    if missing:
        raise PropensityError(f"the later table lacks the model's attribute columns {missing}")
    y = _labels(later, label)
    s = _raw_score(result, later)  # ranking figures from the booster's own scores (ties kept apart)
    out = OutOfTime(len(y), int(y.sum()), float(roc_auc_score(y, s)), lift_at(s, y))
    if result.calibration is not None:
        p = result.calibration.apply(s)
        out.brier, out.ece = float(np.mean((p - y) ** 2)), expected_calibration_error(p, y)
    return out


def write_model_output(table: pa.Table, warehouse: str | Path, name: str) -> Path:
    """Write a model's per-subscriber output to ``WAREHOUSE/models/<name>.parquet`` (atomically)."""
    import pyarrow.parquet as pq

    if "msisdn" not in table.column_names:
        raise PropensityError(f"model output {name!r} must have an msisdn column")
    out_dir = Path(warehouse) / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def read_table(source: str | Path) -> pa.Table:
    """An attribute or label table from a Parquet or CSV file."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    p = Path(source)
    if not p.exists():
        raise PropensityError(f"table file {p} does not exist")
    if p.suffix == ".parquet":
        return pq.read_table(p)
    if p.suffix == ".csv":
        return pcsv.read_csv(p, convert_options=pcsv.ConvertOptions(strings_can_be_null=True))
    raise PropensityError(f"table file {p} must be .parquet or .csv")


def join_label(attributes: pa.Table, labels: pa.Table, label: str, id_column: str = "msisdn") -> pa.Table:
    """Attributes with the label column joined on the id; subscribers without a label are dropped."""
    for t, what in ((attributes, "attribute table"), (labels, "label table")):
        if id_column not in t.column_names:
            raise PropensityError(f"the {what} has no {id_column!r} column")
    if label not in labels.column_names:
        raise PropensityError(f"the label table has no column {label!r} (columns: {labels.column_names})")
    base = attributes.drop_columns([label]) if label in attributes.column_names else attributes
    return base.join(labels.select([id_column, label]), id_column, join_type="inner")


def tag_labels(warehouse: str | Path, tag: str) -> pa.Table:
    """msisdn + one flag tag (as 0/1) from the built wide table ``WAREHOUSE/wide/current``."""
    import duckdb

    wide = Path(warehouse) / "wide" / "current"
    if not wide.exists():
        raise PropensityError(f"no built wide table at {wide}: run 'tagcloud build' first")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW w AS SELECT * FROM read_parquet('{wide}/*.parquet')")
    cols = {r[0]: r[1] for r in con.execute("DESCRIBE w").fetchall()}
    if tag not in cols:
        raise PropensityError(f"tag {tag!r} is not a column of the wide table at {wide}")
    if cols[tag] != "BOOLEAN":
        raise PropensityError(f"tag {tag!r} is {cols[tag]}, not a flag; a label must be a yes/no tag")
    return con.sql(f'SELECT msisdn, coalesce("{tag}", false) AS "{tag}" FROM w').to_arrow_table()
