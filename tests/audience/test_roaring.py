from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from tagcloud.audience.roaring import bitmap_to_words, pack_mask, words_to_bitmap


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300_000),
    density=st.sampled_from([0.0, 0.0001, 0.01, 0.06, 0.3, 0.9, 1.0]),
    key=st.integers(0, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_dense_words_round_trip_through_portable_roaring(n: int, density: float, key: int, seed: int) -> None:
    mask = np.random.default_rng(seed).random(n) < density
    words = pack_mask(mask)
    bm = words_to_bitmap(words, key)
    assert bm == BitMap((np.flatnonzero(mask) + key * 65536).astype(np.uint32))
    assert (bitmap_to_words(bm, key * 65536, len(words)) == words).all()
