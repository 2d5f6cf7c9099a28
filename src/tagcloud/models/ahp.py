"""Analytic Hierarchy Process (层次分析法, AHP): weights from pairwise-comparison matrices.

Saaty's method: a judge compares criteria two at a time on the 1–9 scale (1 = equal, 3 = moderate,
5 = strong, 7 = very strong, 9 = extreme; reciprocals for the reverse). The priority weights are the
principal (Perron) eigenvector of the reciprocal matrix, normalised to sum to 1. How far the
judgements are from a consistent set is measured by the consistency index
``CI = (λmax − n) / (n − 1)`` and the consistency ratio ``CR = CI / RI(n)``, where RI is the mean CI
of random reciprocal matrices of that order. A matrix with ``CR > 0.10`` is refused: its weights
would reflect contradictory judgements, so the judge must revise them.

References: T. L. Saaty, *The Analytic Hierarchy Process*, McGraw-Hill, 1980 (random index table,
wealth-of-nations example); T. L. Saaty, "Decision making with the analytic hierarchy process",
*Int. J. Services Sciences* 1(1), 2008, 83–98 (drink-consumption example, revised random index).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# Saaty (1980), Table 1.3: mean consistency index of random reciprocal matrices, by order n.
RANDOM_INDEX_1980: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
}
# Saaty (2008), Table 3: the same index re-estimated on larger samples.
RANDOM_INDEX_2008: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.52,
    4: 0.89,
    5: 1.11,
    6: 1.25,
    7: 1.35,
    8: 1.40,
    9: 1.45,
    10: 1.49,
}
RANDOM_INDEX_TABLES: dict[str, dict[int, float]] = {
    "saaty1980": RANDOM_INDEX_1980,
    "saaty2008": RANDOM_INDEX_2008,
}

MAX_CONSISTENCY_RATIO = 0.10
SCALE_MIN, SCALE_MAX = 1.0 / 9.0, 9.0
_TOL = 1e-6


class AHPError(ValueError):
    """A pairwise-comparison matrix that cannot be used (not reciprocal, out of scale, …)."""


class InconsistentJudgementsError(AHPError):
    """The judgements contradict each other too much (CR above the limit)."""


@dataclass(frozen=True)
class Priorities:
    """The result of one comparison matrix: weights by name and the consistency figures."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    lambda_max: float
    consistency_index: float
    consistency_ratio: float

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.weights, strict=True))


def pairwise_matrix(names: Sequence[str], judgements: Mapping[tuple[str, str], float]) -> np.ndarray:
    """Build the full reciprocal matrix from judgements ``{(a, b): how much more a matters than b}``.

    Each unordered pair must be judged exactly once (in either order); the diagonal is 1.
    """
    index = {n: i for i, n in enumerate(names)}
    if len(index) != len(names):
        raise AHPError(f"criteria names repeat: {list(names)}")
    n = len(names)
    a = np.ones((n, n))
    seen: set[frozenset[str]] = set()
    for (x, y), v in judgements.items():
        for name in (x, y):
            if name not in index:
                raise AHPError(
                    f"judgement ({x!r}, {y!r}) names unknown criterion {name!r}; known: {list(names)}"
                )
        if x == y:
            raise AHPError(f"judgement ({x!r}, {y!r}) compares a criterion with itself")
        pair = frozenset((x, y))
        if pair in seen:
            raise AHPError(f"the pair ({x!r}, {y!r}) is judged twice")
        seen.add(pair)
        value = float(v)
        if not value > 0:
            raise AHPError(
                f"judgement ({x!r}, {y!r}) = {v!r}: must be a positive number on Saaty's 1–9 scale"
            )
        a[index[x], index[y]] = value
        a[index[y], index[x]] = 1.0 / value
    missing = [(x, y) for i, x in enumerate(names) for y in names[i + 1 :] if frozenset((x, y)) not in seen]
    if missing:
        raise AHPError(f"pairs not judged: {missing}")
    return a


def check_matrix(matrix: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Return the matrix as floats, or raise AHPError saying what is wrong with it."""
    a = np.asarray(matrix, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise AHPError(f"a pairwise-comparison matrix must be square and non-empty, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise AHPError("every entry of a pairwise-comparison matrix must be a positive finite number")
    if not np.allclose(np.diag(a), 1.0, atol=_TOL):
        raise AHPError(f"the diagonal must be 1 (a criterion equals itself), got {np.diag(a).tolist()}")
    bad = np.argwhere(~np.isclose(a * a.T, 1.0, atol=1e-3))
    if bad.size:
        i, j = (int(k) for k in bad[0])
        raise AHPError(
            f"the matrix is not reciprocal: a[{i}][{j}] = {a[i, j]:.4g} but a[{j}][{i}] = {a[j, i]:.4g} "
            f"(should be {1 / a[i, j]:.4g})"
        )
    if np.any(a < SCALE_MIN - _TOL) or np.any(a > SCALE_MAX + _TOL):
        raise AHPError("judgements must lie on Saaty's scale 1/9 … 9")
    return a


def principal_eigenvector(a: np.ndarray) -> tuple[float, np.ndarray]:
    """λmax and the principal eigenvector (normalised to sum 1) of a positive matrix."""
    values, vectors = np.linalg.eig(a)
    # A positive matrix has a unique real dominant (Perron) eigenvalue with a positive eigenvector.
    k = int(np.argmax(values.real))
    w = np.abs(vectors[:, k].real)
    return float(values[k].real), w / w.sum()


def priorities(
    matrix: np.ndarray | Sequence[Sequence[float]],
    names: Sequence[str] | None = None,
    *,
    max_cr: float | None = MAX_CONSISTENCY_RATIO,
    random_index: str = "saaty1980",
) -> Priorities:
    """Weights and consistency of one pairwise-comparison matrix.

    ``max_cr=None`` computes without refusing (to show a judge how inconsistent a draft is).
    Raises InconsistentJudgementsError when ``CR > max_cr``, naming the judgement that departs most
    from the weights it implies.
    """
    a = check_matrix(matrix)
    n = a.shape[0]
    labels = tuple(names) if names is not None else tuple(f"c{i + 1}" for i in range(n))
    if len(labels) != n:
        raise AHPError(f"{len(labels)} names for a {n}×{n} matrix")
    try:
        ri_table = RANDOM_INDEX_TABLES[random_index]
    except KeyError:
        raise AHPError(
            f"unknown random index table {random_index!r}; known: {list(RANDOM_INDEX_TABLES)}"
        ) from None
    if n not in ri_table:
        raise AHPError(
            f"the {random_index} random index table covers orders 1–{max(ri_table)}; got {n} criteria"
        )
    lam, w = principal_eigenvector(a)
    ci = max(0.0, (lam - n) / (n - 1)) if n > 1 else 0.0
    ri = ri_table[n]
    cr = ci / ri if ri > 0 else 0.0
    result = Priorities(labels, tuple(float(x) for x in w), lam, ci, cr)
    if max_cr is not None and cr > max_cr:
        # The entry whose judgement is furthest (in log ratio) from w_i / w_j is the one to revisit.
        dev = np.abs(np.log(a * np.outer(1 / w, w)))
        i, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
        raise InconsistentJudgementsError(
            f"consistency ratio CR = {cr:.3f} exceeds {max_cr:.2f} (λmax = {lam:.3f}, CI = {ci:.3f}, "
            f"RI({n}) = {ri}): the judgements contradict each other, so the weights would be arbitrary. "
            f"Revise them; the judgement furthest from the others is {labels[i]!r} vs {labels[j]!r} = "
            f"{a[i, j]:.3g}, where the rest imply about {w[i] / w[j]:.3g}."
        )
    return result


@dataclass(frozen=True)
class Criterion:
    """A node of an AHP hierarchy: a leaf (an indicator) or a group judged by its own matrix."""

    name: str
    children: tuple[Criterion, ...] = ()
    judgements: Mapping[tuple[str, str], float] = field(default_factory=dict)

    @property
    def leaf(self) -> bool:
        return not self.children


def global_weights(root: Criterion, **kw: object) -> dict[str, float]:
    """Weights of every leaf of the hierarchy: the product of local weights on its path from the root.

    Every group's matrix is checked; the first inconsistent one raises with its group's name.
    """
    out: dict[str, float] = {}

    def walk(node: Criterion, weight: float) -> None:
        if node.leaf:
            if node.name in out:
                raise AHPError(f"indicator {node.name!r} appears twice in the hierarchy")
            out[node.name] = weight
            return
        names = [c.name for c in node.children]
        if len(names) == 1:
            local = {names[0]: 1.0}
        else:
            try:
                local = priorities(pairwise_matrix(names, node.judgements), names, **kw).as_dict()  # type: ignore[arg-type]
            except AHPError as e:
                raise type(e)(f"criterion group {node.name!r}: {e}") from None
        for c in node.children:
            walk(c, weight * local[c.name])

    walk(root, 1.0)
    return out
