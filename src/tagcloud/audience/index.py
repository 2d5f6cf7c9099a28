"""The audience index: built from the subscriber wide table, persisted, opened lazily.

Layout of ``WAREHOUSE/index/<build_id>/`` (see docs/audience.md):

* ``manifest.json`` — build, id space, shards, and per column its kind, labels, values, counts
  and BSI spec;
* ``dictionary/*.npy`` — the subscriber dictionary (memory-mapped);
* ``shard-NNNN/bitmaps.bin`` + ``bitmaps.json`` — portable Roaring bitmaps of the shard's id
  range, concatenated; ``bitmaps.json`` maps a key to ``[offset, length]``. Keys: ``_alive``
  (subscribers of this build), ``<flag>`` (true), ``<enum>=<value>``, ``<column>:null``;
* ``shard-NNNN/bsi/<column>.npy`` — ``uint64[bits + 1, words]``: row 0 = has a value, then slices;
  ``bsi/<column>.distinct.npy`` for rank-coded columns.

Shards are id ranges (multiples of 65,536) so a query can run on several processes at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.audience import bsi as bsi_mod
from tagcloud.audience.dictionary import Dictionary
from tagcloud.audience.paths import current_index_dir, index_root, warehouse_root

if TYPE_CHECKING:
    from pyroaring import FrozenBitMap

FORMAT = 1
DEFAULT_SHARD_SIZE = 1 << 24  # 16.8M ids: a province of up to ~16M subscribers is one shard
REGION_COLUMNS = ("city_id", "county_id", "township_id")
INDEXED_KINDS = ("flag", "enum", "number", "date")
BATCH_COLUMNS = 64


class IndexError_(ValueError):
    """A wide table or index that cannot be used, with the thing and the problem named."""


def value_key(column: str, value: str) -> str:
    return f"{column}={value}"


def null_key(column: str) -> str:
    return f"{column}:null"


def build_row_store(folder: Path) -> int:
    """Write ``lookup/`` (flag bits per id, read by ``lookup`` for reverse queries) from an index
    folder's own bitmaps; return its bytes."""
    index = AudienceIndex(folder)
    flags = [n for n, c in index.columns.items() if c["kind"] == "flag"]
    nullable = [n for n in flags if index.columns[n]["nulls"]]
    out = folder / "lookup"
    out.mkdir(exist_ok=True)
    n_ids = index.dictionary.n_ids
    for fname, names, key in (("flags.npy", flags, lambda n: n), ("flag_nulls.npy", nullable, null_key)):
        mat = np.lib.format.open_memmap(
            out / fname, mode="w+", dtype=np.uint8, shape=(n_ids, max(1, -(-len(names) // 8)))
        )
        # one byte column (8 flags) at a time: combine 8 dense masks, then one strided write that
        # walks the file in order — scattering each flag's ids into the rows was 10× slower
        for b in range(0, len(names), 8):
            byte = np.zeros(n_ids, dtype=np.uint8)
            for j, name in enumerate(names[b : b + 8]):
                for shard in index.shards:
                    ids = np.frombuffer(shard.bitmap(key(name)).to_array(), dtype=np.uint32)
                    byte[ids] |= np.uint8(1 << j)
                    shard.forget(key(name))  # keep the build's memory flat
            mat[:, b // 8] = byte
        mat.flush()
        del mat
    (out / "columns.json").write_text(
        json.dumps({"flags": flags, "nullable_flags": nullable}), encoding="utf-8"
    )
    return sum(p.stat().st_size for p in out.iterdir())


class Shard:
    """One id range of an opened index: bitmaps deserialised on first use, BSI slices memory-mapped."""

    def __init__(self, folder: Path, lo: int, hi: int) -> None:
        self.folder, self.lo, self.hi = folder, lo, hi
        self.n_words = (hi - lo) // 64
        self._offsets: dict[str, list[int]] = json.loads(
            (folder / "bitmaps.json").read_text(encoding="utf-8")
        )
        self._data = np.memmap(folder / "bitmaps.bin", dtype=np.uint8, mode="r") if self._offsets else None
        self._bitmaps: dict[str, FrozenBitMap] = {}
        self._bsi: dict[str, np.ndarray] = {}
        self._distinct: dict[str, np.ndarray] = {}

    def has(self, key: str) -> bool:
        return key in self._offsets

    def stored_keys(self) -> list[str]:
        """Every bitmap stored in this shard (flags, enum values, null sets, ``_alive``)."""
        return list(self._offsets)

    def bitmap(self, key: str) -> FrozenBitMap:
        """The bitmap stored under ``key`` (empty when the key has none in this shard)."""
        bm = self._bitmaps.get(key)
        if bm is None:
            from pyroaring import FrozenBitMap

            where = self._offsets.get(key)
            if where is None or self._data is None:
                bm = FrozenBitMap()
            else:
                o, n = where
                bm = FrozenBitMap.deserialize(self._data[o : o + n].tobytes())
            self._bitmaps[key] = bm
        return bm

    def forget(self, key: str) -> None:
        """Drop a loaded bitmap from the cache (bulk readers that touch each bitmap once)."""
        self._bitmaps.pop(key, None)

    def slices(self, column: str) -> np.ndarray:
        s = self._bsi.get(column)
        if s is None:
            s = np.load(self.folder / "bsi" / f"{column}.npy", mmap_mode="r")
            self._bsi[column] = s
        return s

    def distinct(self, column: str) -> np.ndarray | None:
        if column not in self._distinct:
            p = self.folder / "bsi" / f"{column}.distinct.npy"
            self._distinct[column] = np.load(p) if p.exists() else None  # type: ignore[assignment]
        return self._distinct[column]

    def warm(self) -> None:
        """Load every bitmap and map every slice now (for latency-critical services)."""
        for key in self._offsets:
            self.bitmap(key)


class AudienceIndex:
    """An opened index: manifest, dictionary and shards (see the module docstring for the layout)."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"audience index: {folder} has no manifest.json")
        self.folder = folder
        self.manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
        if self.manifest.get("format") != FORMAT:
            raise IndexError_(
                f"audience index {folder}: format {self.manifest.get('format')} is not {FORMAT}"
            )
        self.columns: dict[str, dict[str, Any]] = self.manifest["columns"]
        self.dictionary = Dictionary.load(folder / "dictionary")
        self.shards = [Shard(folder / s["folder"], s["lo"], s["hi"]) for s in self.manifest["shards"]]

    @classmethod
    def open(cls, warehouse: Path | str | None = None, build_id: str | None = None) -> AudienceIndex:
        """The current index of the warehouse (or the named build)."""
        wh = warehouse_root(warehouse)
        folder = index_root(wh) / build_id if build_id else current_index_dir(wh)
        return cls(folder)

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    @property
    def subscribers(self) -> int:
        return int(self.manifest["subscribers"])

    def column(self, name: str) -> dict[str, Any]:
        """A column's manifest entry; a clear error with the closest name when it is unknown."""
        entry = self.columns.get(name)
        if entry is None:
            import difflib

            close = difflib.get_close_matches(name, list(self.columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise KeyError(f"audience index: no attribute or tag {name!r}{hint}")
        return entry

    def bsi_spec(self, name: str) -> bsi_mod.BsiSpec:
        return bsi_mod.BsiSpec(**self.column(name)["bsi"])

    def estimate(self, key: str) -> int:
        """Cardinality of a stored bitmap from the manifest (the planner orders operands by it)."""
        if key == "_alive":
            return self.subscribers
        if key.endswith(":null"):
            return int(self.columns[key[:-5]]["nulls"])
        if "=" in key:
            col, val = key.split("=", 1)
            return int(self.columns[col]["counts"].get(val, 0))
        return int(self.columns[key].get("count", 0))

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
