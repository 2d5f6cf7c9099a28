from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagcloud.audience import bsi
from tagcloud.audience.roaring import pack_mask

OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less, "=": np.equal}


@settings(max_examples=80, deadline=None)
@given(
    values=st.one_of(
        st.lists(st.integers(-5000, 5000), min_size=1, max_size=400),
        st.lists(st.decimals(-1000, 1000, places=2, allow_nan=False), min_size=1, max_size=400),
        st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=400),
    ),
    literal=st.decimals(-1200, 1200, places=3, allow_nan=False),
    op=st.sampled_from(list(OPS)),
)
def test_code_intervals_agree_with_direct_comparison(values: list, literal, op: str) -> None:
    v = np.array([float(x) for x in values])
    spec, codes, distinct = bsi.encode(v)
    assert (bsi.to_values(spec, distinct, codes) == v).all()  # exact round trip, any encoding
    slices = np.stack(
        [pack_mask(np.ones(len(v), bool))]
        + [pack_mask(((codes >> np.uint64(k)) & np.uint64(1)).astype(bool)) for k in range(spec.bits)]
    )
    got = bsi.range_words(slices, bsi.code_interval(spec, distinct, op, Fraction(literal)))
    want = pack_mask(OPS[op](v, float(literal)))
    assert (got == want).all()
    n, total = bsi.code_sum(slices, pack_mask(np.ones(len(v), bool)))
    assert n == len(v)
    if spec.encoding == "fixed":
        assert (total + spec.offset * n) / 10**spec.scale == pytest.approx(v.sum(), rel=1e-9, abs=1e-6)


def test_values_that_are_not_short_decimals_fall_back_to_rank_codes() -> None:
    spec, _, distinct = bsi.encode(np.array([0.1 + 0.2, 1 / 3, 2.0]))
    assert spec.encoding == "rank" and distinct is not None and len(distinct) == 3


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError, match="infinite or NaN"):
        bsi.encode(np.array([1.0, np.inf]))
