"""AHP against Saaty's published worked examples, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from tagcloud.models.ahp import (
    AHPError,
    Criterion,
    InconsistentJudgementsError,
    global_weights,
    pairwise_matrix,
    priorities,
)

# Saaty (2008), "Decision making with the analytic hierarchy process", Int. J. Services Sciences
# 1(1):83–98, Table 2 "Which drink is consumed more in the U.S.?": the judgements and the derived
# eigenvector, printed to three decimals.
DRINKS = ["coffee", "wine", "tea", "beer", "sodas", "milk", "water"]
DRINKS_MATRIX = [
    [1, 9, 5, 2, 1, 1, 1 / 2],
    [1 / 9, 1, 1 / 3, 1 / 9, 1 / 9, 1 / 9, 1 / 9],
    [1 / 5, 3, 1, 1 / 3, 1 / 4, 1 / 3, 1 / 9],
    [1 / 2, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [1, 9, 4, 2, 1, 2, 1 / 2],
    [1, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [2, 9, 9, 3, 2, 3, 1],
]
DRINKS_PUBLISHED = [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]

# Saaty (1980), The Analytic Hierarchy Process, McGraw-Hill, §2 "relative wealth of nations"
# (after Saaty & Khouja 1976): eigenvector to three decimals, λmax = 7.61, CI = 0.10, CR = 0.08.
NATIONS = ["US", "USSR", "China", "France", "UK", "Japan", "W. Germany"]
NATIONS_MATRIX = [
    [1, 4, 9, 6, 6, 5, 5],
    [1 / 4, 1, 7, 5, 5, 3, 4],
    [1 / 9, 1 / 7, 1, 1 / 5, 1 / 5, 1 / 7, 1 / 5],
    [1 / 6, 1 / 5, 5, 1, 1, 1 / 3, 1 / 3],
    [1 / 6, 1 / 5, 5, 1, 1, 1 / 3, 1 / 3],
    [1 / 5, 1 / 3, 7, 3, 3, 1, 2],
    [1 / 5, 1 / 4, 5, 3, 3, 1 / 2, 1],
]
NATIONS_PUBLISHED = [0.427, 0.230, 0.021, 0.052, 0.052, 0.123, 0.094]


def test_saaty_2008_drinks_example() -> None:
    p = priorities(DRINKS_MATRIX, DRINKS)
    assert [round(w, 3) for w in p.weights] == DRINKS_PUBLISHED
    assert p.consistency_ratio < 0.10


def test_saaty_1980_wealth_of_nations_example() -> None:
    p = priorities(NATIONS_MATRIX, NATIONS)
    assert [round(w, 3) for w in p.weights] == NATIONS_PUBLISHED
    assert round(p.lambda_max, 2) == 7.61
    assert round(p.consistency_index, 2) == 0.10
    assert round(p.consistency_ratio, 2) == 0.08
    # With Saaty's 2008 random index RI(7) = 1.35 instead of 1.32.
    p2 = priorities(NATIONS_MATRIX, NATIONS, random_index="saaty2008")
    assert p2.consistency_ratio == pytest.approx(p.consistency_index / 1.35)


def test_consistent_matrix_has_exact_weights_and_zero_cr() -> None:
    w = np.array([0.5, 0.3, 0.2])
    p = priorities(np.outer(w, 1 / w))
    assert np.allclose(p.weights, w)
    assert p.lambda_max == pytest.approx(3.0)
    assert p.consistency_ratio == pytest.approx(0.0, abs=1e-9)


def test_inconsistent_matrix_refused_with_explanation() -> None:
    # a ≫ b, b ≫ c, yet c ≫ a: a cycle no weights can honour.
    m = pairwise_matrix(["a", "b", "c"], {("a", "b"): 5, ("b", "c"): 5, ("c", "a"): 5})
    with pytest.raises(InconsistentJudgementsError, match=r"CR = .* exceeds 0.10.*Revise"):
        priorities(m, ["a", "b", "c"])
    # Still computable on request, to show the judge how far off the draft is.
    assert priorities(m, max_cr=None).consistency_ratio > 1.0


def test_pairwise_matrix_from_judgements() -> None:
    m = pairwise_matrix(["x", "y", "z"], {("x", "y"): 3, ("z", "x"): 2, ("y", "z"): 1 / 2})
    assert m[0, 1] == 3 and m[1, 0] == pytest.approx(1 / 3)
    assert m[2, 0] == 2 and m[0, 2] == pytest.approx(1 / 2)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[1, 2], [2, 1]], "not reciprocal"),
        ([[1, 12], [1 / 12, 1]], "1/9"),
        ([[2, 1], [1, 2]], "diagonal"),
        ([[1, -1], [-1, 1]], "positive"),
        ([[1, 2, 3]], "square"),
    ],
)
def test_bad_matrices_named(matrix: list[list[float]], message: str) -> None:
    with pytest.raises(AHPError, match=message):
        priorities(matrix)


def test_missing_and_unknown_judgements() -> None:
    with pytest.raises(AHPError, match="not judged"):
        pairwise_matrix(["a", "b", "c"], {("a", "b"): 2})
    with pytest.raises(AHPError, match="unknown criterion 'd'"):
        pairwise_matrix(["a", "b"], {("a", "d"): 2})


def test_hierarchy_global_weights_multiply_down_the_tree() -> None:
    root = Criterion(
        "goal",
        (
            Criterion("g1", (Criterion("a"), Criterion("b")), {("a", "b"): 3}),
            Criterion("g2", (Criterion("c"),)),
        ),
        {("g1", "g2"): 1},
    )
    w = global_weights(root)
    assert w == pytest.approx({"a": 0.375, "b": 0.125, "c": 0.5})
    bad = Criterion(
        "goal",
        (Criterion("a"), Criterion("b"), Criterion("c")),
        {("a", "b"): 9, ("b", "c"): 9, ("c", "a"): 9},
    )
    with pytest.raises(InconsistentJudgementsError, match="criterion group 'goal'"):
        global_weights(bad)
