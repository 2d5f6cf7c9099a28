"""Reverse query (反向查询) of one subscriber: every tag and attribute, in well under 2 ms.

A lookup touches every column, so per-column cost is what counts. Probing 2,000 flag bitmaps of 10M
ids costs a cache miss each (~3 µs under load: 6 ms), so the index also keeps a row store of flag
bits, ``lookup/flags.npy`` (``uint8[n_ids, ceil(flags / 8)]``, memory-mapped: one lookup reads one
row of ~250 bytes) and ``lookup/flag_nulls.npy`` for the flags that have NULLs; the order of both is
``lookup/columns.json``. Enums are probed value by value; all numeric columns are decoded at once
from one gathered word per bit slice.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.audience import bsi as bsi_mod
from tagcloud.audience.index import AudienceIndex, Shard, null_key, value_key
from tagcloud.audience.index import build_row_store as build_row_store  # written with the index

if TYPE_CHECKING:
    pass


_FLAG, _ENUM, _NUMBER, _FLAG_ROW = 0, 1, 2, 3
_EPOCH = date(1970, 1, 1)  # dates are indexed as days since the epoch


class ShardReader:
    """The prepared probes of one shard (built on first use, then kept)."""

    def __init__(self, index: AudienceIndex, shard: Shard) -> None:
        self.shard = shard
        self.entries: list[tuple[str, int, Any, Any]] = []
        self.numbers: list[tuple[str, bsi_mod.BsiSpec, np.ndarray | None, int]] = []
        slices: list[np.ndarray] = []
        self.dates: set[str] = set()
        store = index.folder / "lookup" / "columns.json"
        self.rows: tuple[np.ndarray, np.ndarray] | None = None
        flag_pos: dict[str, int] = {}
        null_pos: dict[str, int] = {}
        if store.exists():
            cols = json.loads(store.read_text(encoding="utf-8"))
            flag_pos = {n: k for k, n in enumerate(cols["flags"])}
            null_pos = {n: k for k, n in enumerate(cols["nullable_flags"])}
            self.rows = (
                np.load(index.folder / "lookup" / "flags.npy", mmap_mode="r"),
                np.load(index.folder / "lookup" / "flag_nulls.npy", mmap_mode="r"),
            )
        for name, col in index.columns.items():
            if col["kind"] == "flag" and name in flag_pos:
                self.entries.append((name, _FLAG_ROW, flag_pos[name], null_pos.get(name, -1)))
                continue
            nulls = shard.bitmap(null_key(name)) if col["nulls"] else None
            if col["kind"] == "flag":
                self.entries.append((name, _FLAG, shard.bitmap(name), nulls))
            elif col["kind"] == "enum":
                values = [(v, shard.bitmap(value_key(name, v))) for v in col["counts"] if col["counts"][v]]
                self.entries.append((name, _ENUM, values, nulls))
            else:
                s = shard.slices(name)
                self.numbers.append((name, bsi_mod.BsiSpec(**col["bsi"]), shard.distinct(name), s.shape[0]))
                if col["kind"] == "date":
                    self.dates.add(name)
                slices.append(s)
                self.entries.append((name, _NUMBER, None, None))
        self.slices = slices
        widths = np.array([n[3] for n in self.numbers], dtype=np.int64)
        self.starts = np.concatenate(([0], np.cumsum(widths)[:-1])) if len(widths) else widths
        # bit k of a column's code sits at position start + 1 + k of the gathered words
        self.weights = np.concatenate([np.arange(-1, w - 1) for w in widths]) if len(widths) else widths

    def read(self, i: int) -> dict[str, Any]:
        local = i - self.shard.lo
        w, sh = local >> 6, np.uint64(local & 63)
        numbers: dict[str, float | None] = {}
        if self.slices:
            words = np.concatenate([s[:, w] for s in self.slices])
            bits = ((words >> sh) & np.uint64(1)).astype(np.int64)
            has = bits[self.starts]
            contrib = np.where(self.weights >= 0, bits << np.maximum(self.weights, 0), 0)
            codes = np.add.reduceat(contrib, self.starts)
            for (name, spec, distinct, _), h, c in zip(
                self.numbers, has.tolist(), codes.tolist(), strict=True
            ):
                if not h:
                    numbers[name] = None
                elif spec.encoding == "rank":
                    assert distinct is not None
                    numbers[name] = float(distinct[c])
                else:
                    numbers[name] = (c + spec.offset) / 10**spec.scale
        fbits: list[int] = []
        nbits: list[int] = []
        if self.rows is not None:
            fbits = np.unpackbits(self.rows[0][i], bitorder="little").tolist()
            nbits = np.unpackbits(self.rows[1][i], bitorder="little").tolist()
        out: dict[str, Any] = {}
        for name, kind, a, nulls in self.entries:
            if kind == _FLAG_ROW:
                out[name] = None if nulls >= 0 and nbits[nulls] else bool(fbits[a])
            elif kind == _NUMBER:
                v = numbers[name]
                out[name] = _EPOCH + timedelta(days=int(v)) if v is not None and name in self.dates else v
            elif nulls is not None and i in nulls:
                out[name] = None
            elif kind == _FLAG:
                out[name] = i in a
            else:
                out[name] = next((v for v, bm in a if i in bm), None)
        return out
