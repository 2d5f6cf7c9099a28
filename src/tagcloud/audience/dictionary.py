"""The subscriber dictionary: mobile number ↔ dense ``uint32`` id.

New subscribers get ids in (city, county, township, brand) order so that region and plan bitmaps
are long runs and every bitmap of correlated tags compresses; a subscriber that persists from the
previous build keeps its id, and ids of departed subscribers are never reused (a saved group's
bitmap keeps meaning the same people). Numbers are stored as ``uint64`` (11 digits fit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagcloud.data.model import MOBILE_NUMBER


@dataclass
class Dictionary:
    """``msisdn_by_id[id]`` (0 = a hole) and a sorted view for number → id in O(log n)."""

    msisdn_by_id: np.ndarray  # uint64, one per id
    sorted_msisdn: np.ndarray  # uint64, ascending, holes left out
    sorted_ids: np.ndarray  # uint32, the id of each sorted number

    @property
    def n_ids(self) -> int:
        return len(self.msisdn_by_id)

    def ids_of(self, numbers: np.ndarray) -> np.ndarray:
        """uint64 numbers → int64 ids, -1 where the number is not a subscriber of this build."""
        pos = np.searchsorted(self.sorted_msisdn, numbers)
        pos = np.minimum(pos, max(len(self.sorted_msisdn) - 1, 0))
        found = (
            (self.sorted_msisdn[pos] == numbers) if len(self.sorted_msisdn) else np.zeros(len(numbers), bool)
        )
        return np.where(found, self.sorted_ids[pos].astype(np.int64), -1)

    def id_of(self, msisdn: str) -> int:
        """One number (text) → its id; a clear error when it is malformed or not indexed."""
        number = parse_number(msisdn)
        i = int(self.ids_of(np.array([number], dtype=np.uint64))[0])
        if i < 0:
            raise KeyError(f"subscriber {mask_number(msisdn)} is not in this index")
        return i

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "msisdn_by_id.npy", self.msisdn_by_id)
        np.save(folder / "sorted_msisdn.npy", self.sorted_msisdn)
        np.save(folder / "sorted_ids.npy", self.sorted_ids)

    @classmethod
    def load(cls, folder: Path) -> Dictionary:
        """Memory-mapped: opening a 10M-subscriber dictionary costs nothing until it is used."""
        return cls(
            np.load(folder / "msisdn_by_id.npy", mmap_mode="r"),
            np.load(folder / "sorted_msisdn.npy", mmap_mode="r"),
            np.load(folder / "sorted_ids.npy", mmap_mode="r"),
        )


def parse_number(msisdn: str) -> int:
    import re

    text = str(msisdn).strip()
    if not re.match(MOBILE_NUMBER, text):
        raise ValueError(f"subscriber number {text!r}: not an 11-digit mobile number")
    return int(text)


def mask_number(msisdn: str) -> str:
    """``13612346297`` → ``136****6297``."""
    s = str(msisdn)
    return s[:3] + "****" + s[-4:] if len(s) >= 8 else "****"


def mask_numbers(numbers: np.ndarray) -> list[str]:
    """uint64 numbers → masked text, vectorised through Arrow string kernels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(numbers.astype(np.int64)), pa.string())
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 3), pc.utf8_slice_codeunits(text, 7, 11), "****"
    ).to_pylist()


def assign_ids(numbers: np.ndarray, order_keys: list[np.ndarray], previous: Dictionary | None) -> Dictionary:
    """Rows' uint64 numbers → a dictionary; rows new to the index are ordered by ``order_keys``."""
    n_prev = previous.n_ids if previous is not None else 0
    old = previous.ids_of(numbers) if previous is not None else np.full(len(numbers), -1, dtype=np.int64)
    new_rows = np.flatnonzero(old < 0)
    # lexsort: last key is primary; the number breaks ties so the order is deterministic
    keys = [numbers[new_rows]] + [k[new_rows] for k in reversed(order_keys)]
    new_rows = new_rows[np.lexsort(keys)]
    ids = old.copy()
    ids[new_rows] = n_prev + np.arange(len(new_rows))
    n_ids = n_prev + len(new_rows)
    if n_ids >= 2**32:
        raise ValueError(f"subscriber dictionary: {n_ids:,} ids do not fit in uint32")
    by_id = np.zeros(n_ids, dtype=np.uint64)
    by_id[ids] = numbers
    order = np.argsort(numbers)
    return Dictionary(by_id, numbers[order], ids[order].astype(np.uint32))
