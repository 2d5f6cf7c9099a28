"""Bit-sliced indexes (BSI) for numeric attributes, evaluated on dense ``uint64`` words.

A numeric column becomes unsigned integer codes ``U`` and one bit slice per bit of ``U`` (plus the
"has a value" slice). Two encodings keep comparisons exact, so the engine agrees with a SQL scan:

* ``fixed``: ``value = (U + offset) / 10**scale`` when every value has at most 6 decimals
  (money in fen, MB with one decimal, counts). Sums come straight from the slices.
* ``rank``: ``value = distinct[U]`` for anything else (arbitrary doubles); sums decode members.

Slices are dense words, not Roaring: a range walks every slice, and in-place numpy AND/OR over
1.25 MB per 10M ids beats allocating a Roaring result per step (docs/decisions: dense words).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

MAX_SCALE = 6
MAX_FIXED_BITS = 40  # wider fixed-point ranges fall back to rank codes (fewer slices)


@dataclass(frozen=True)
class BsiSpec:
    """How codes map back to values: ``encoding`` fixed|rank, ``scale``, ``offset``, ``bits``."""

    encoding: str
    scale: int
    offset: int
    bits: int


def encode(values: np.ndarray) -> tuple[BsiSpec, np.ndarray, np.ndarray | None]:
    """Non-null values (float or int) → (spec, codes ``U`` as uint64, distinct values for rank codes)."""
    if len(values) == 0:
        return BsiSpec("fixed", 0, 0, 1), np.zeros(0, dtype=np.uint64), None
    if values.dtype.kind in "iu":
        scaled = values.astype(np.int64)
        scale = 0
    else:
        if not np.isfinite(values).all():
            raise ValueError("numeric column: infinite or NaN values cannot be indexed")
        scale = -1
        for d in range(MAX_SCALE + 1):
            s = np.round(values * 10.0**d)
            if np.abs(s).max() < 2**52 and (s / 10.0**d == values).all():
                scale, scaled = d, s.astype(np.int64)
                break
    if scale >= 0:
        offset = int(scaled.min())
        codes = (scaled - offset).astype(np.uint64)
        bits = max(1, int(codes.max()).bit_length())
        if bits <= MAX_FIXED_BITS:
            return BsiSpec("fixed", scale, offset, bits), codes, None
    distinct, codes_i = np.unique(values.astype(np.float64), return_inverse=True)
    bits = max(1, int(len(distinct) - 1).bit_length())
    return BsiSpec("rank", 0, 0, bits), codes_i.astype(np.uint64), distinct


def code_interval(
    spec: BsiSpec, distinct: np.ndarray | None, op: str, literal: Fraction
) -> tuple[int, int] | None:
    """``value op literal`` as an inclusive code interval ``(a, b)``; None when nothing can match.

    ``op`` is one of ``>= > <= < =``; ``!=`` is the complement of ``=`` among non-null values.
    """
    top = (1 << spec.bits) - 1
    if spec.encoding == "fixed":
        x = literal * 10**spec.scale - spec.offset
        lo_c, hi_c = math.ceil(x), math.floor(x)
        a, b = {
            ">=": (lo_c, top),
            ">": (hi_c + 1, top),
            "<=": (0, hi_c),
            "<": (0, lo_c - 1),
            "=": (lo_c, hi_c),  # empty (lo > hi) unless x is a whole code
        }[op]
    else:
        assert distinct is not None
        c = float(literal)
        left = int(np.searchsorted(distinct, c, "left"))
        right = int(np.searchsorted(distinct, c, "right"))
        a, b = {
            ">=": (left, top),
            ">": (right, top),
            "<=": (0, right - 1),
            "<": (0, left - 1),
            "=": (left, right - 1),
        }[op]
    a, b = max(a, 0), min(b, top)
    return (a, b) if a <= b else None


def _le(slices: np.ndarray, c: int) -> np.ndarray:
    """Words of ids with a value and code ≤ c (O'Neil & Quass, most significant bit first)."""
    exists = slices[0]
    bits = slices.shape[0] - 1
    if c >= (1 << bits) - 1:
        return exists.copy()
    eq = exists.copy()
    lt = np.zeros_like(exists)
    tmp = np.empty_like(exists)
    for k in range(bits - 1, -1, -1):
        s = slices[k + 1]
        if (c >> k) & 1:
            np.bitwise_and(eq, ~s, out=tmp)
            np.bitwise_or(lt, tmp, out=lt)
            np.bitwise_and(eq, s, out=eq)
        else:
            np.bitwise_and(eq, ~s, out=eq)
    np.bitwise_or(lt, eq, out=lt)
    return lt


def range_words(slices: np.ndarray, interval: tuple[int, int] | None) -> np.ndarray:
    """Words of ids whose code lies in the inclusive ``interval`` (``slices[0]`` = has a value)."""
    if interval is None:
        return np.zeros_like(slices[0])
    a, b = interval
    out = _le(slices, b)
    if a > 0:
        np.bitwise_and(out, ~_le(slices, a - 1), out=out)
    return out


def code_sum(slices: np.ndarray, members: np.ndarray) -> tuple[int, int]:
    """(number of members with a value, sum of their codes) for dense member words."""
    has = slices[0] & members
    total = 0
    for k in range(slices.shape[0] - 1):
        total += int(np.bitwise_count(slices[k + 1] & has).sum()) << k
    return int(np.bitwise_count(has).sum()), total


def decode(slices: np.ndarray, local_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ids (offsets inside the shard) and whether each has a value."""
    w = local_ids >> 6
    sh = (local_ids & 63).astype(np.uint64)
    one = np.uint64(1)
    has = ((slices[0][w] >> sh) & one).astype(bool)
    codes = np.zeros(len(local_ids), dtype=np.uint64)
    for k in range(slices.shape[0] - 1):
        codes |= ((slices[k + 1][w] >> sh) & one) << np.uint64(k)
    return codes, has


def to_values(spec: BsiSpec, distinct: np.ndarray | None, codes: np.ndarray) -> np.ndarray:
    """Codes → float64 values."""
    if spec.encoding == "rank":
        assert distinct is not None
        return distinct[codes.astype(np.int64)]
    return (codes.astype(np.int64) + spec.offset) / 10.0**spec.scale
