"""Conversions between dense bit words (numpy ``uint64``) and Roaring bitmaps.

pyroaring builds a bitmap from an id array at ~30 ns per id, which makes a dense 10M-subscriber
column cost ~100 ms. Writing the portable Roaring serialisation directly from packed words and
deserialising it costs a few milliseconds instead, so the index build and every dense-word result
(bit-sliced ranges) go through here. Format: https://github.com/RoaringBitmap/RoaringFormatSpec
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyroaring import BitMap

WORDS_PER_CONTAINER = 1024  # 65,536 bits: one Roaring container
BITS_PER_CONTAINER = 65536
_COOKIE_NO_RUN = 12346
_ARRAY_MAX = 4096  # a container of at most 4,096 values is an array of uint16, else a bitset


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """Boolean mask (one entry per id) → little-endian uint64 words padded to whole containers."""
    n_words = -(-len(mask) // BITS_PER_CONTAINER) * WORDS_PER_CONTAINER
    packed = np.packbits(mask, bitorder="little")
    out = np.zeros(n_words * 8, dtype=np.uint8)
    out[: len(packed)] = packed
    return out.view(np.uint64)


def words_to_bytes(words: np.ndarray, first_key: int = 0) -> bytes:
    """Dense words (length a multiple of 1,024) → portable Roaring bytes; bit 0 is id first_key·65,536."""
    if len(words) % WORDS_PER_CONTAINER:
        raise ValueError(f"dense words: length {len(words)} is not a multiple of {WORDS_PER_CONTAINER}")
    blocks = words.reshape(-1, WORDS_PER_CONTAINER)
    cards = np.bitwise_count(blocks).sum(axis=1, dtype=np.int64)
    keep = np.flatnonzero(cards)
    cards = cards[keep]
    n = len(keep)
    sparse = cards <= _ARRAY_MAX
    sizes = np.where(sparse, cards * 2, WORDS_PER_CONTAINER * 8)
    header = 8 + 4 * n + 4 * n
    offsets = header + (np.cumsum(sizes) - sizes).astype(np.int64)
    buf = np.zeros(header + int(sizes.sum()), dtype=np.uint8)
    buf[:8].view(np.uint32)[:] = (_COOKIE_NO_RUN, n)
    desc = np.empty((n, 2), dtype=np.uint16)
    desc[:, 0] = keep + first_key
    desc[:, 1] = cards - 1
    buf[8 : 8 + 4 * n] = desc.reshape(-1).view(np.uint8)
    buf[8 + 4 * n : header] = offsets.astype(np.uint32).view(np.uint8)
    dense_rows = np.flatnonzero(~sparse)
    if len(dense_rows):
        # bitset containers are contiguous 8 KiB blocks; place them with one fancy assignment
        idx = offsets[dense_rows, None] + np.arange(WORDS_PER_CONTAINER * 8)
        buf[idx] = blocks[keep[dense_rows]].view(np.uint8).reshape(len(dense_rows), -1)
    sparse_rows = np.flatnonzero(sparse)
    if len(sparse_rows):
        # unpack only the non-zero words of sparse containers: sparse means few of them
        sub = blocks[keep[sparse_rows]]
        row, word = np.nonzero(sub)
        bits = np.unpackbits(sub[row, word].view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
        wi, bit = np.nonzero(bits)
        row = row[wi]
        # row-major nonzero keeps each container's values sorted and containers in key order
        vals = (word[wi] * 64 + bit).astype(np.uint16)
        starts = offsets[sparse_rows]
        sc = cards[sparse_rows]
        first = np.cumsum(sc) - sc
        pos = starts[row] + 2 * (np.arange(len(row)) - first[row])
        buf[pos] = (vals & 0xFF).astype(np.uint8)
        buf[pos + 1] = (vals >> 8).astype(np.uint8)
    return buf.tobytes()


def words_to_bitmap(words: np.ndarray, first_key: int = 0) -> BitMap:
    """Dense words → a pyroaring ``BitMap`` (see :func:`words_to_bytes`)."""
    from pyroaring import BitMap

    return BitMap.deserialize(words_to_bytes(words, first_key))


def bitmap_to_words(bm: BitMap, lo: int, n_words: int) -> np.ndarray:
    """The ids of ``bm`` in ``[lo, lo + 64·n_words)`` as dense words (lo a multiple of 65,536)."""
    ids = np.frombuffer(bm.to_array(), dtype=np.uint32)
    if len(ids) and (ids[0] < lo or int(ids[-1]) >= lo + 64 * n_words):
        ids = ids[(ids >= lo) & (ids < lo + 64 * n_words)]
    mask = np.zeros(64 * n_words, dtype=bool)
    mask[ids - lo] = True
    return np.packbits(mask, bitorder="little").view(np.uint64)
