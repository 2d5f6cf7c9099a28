"""Hot-area markets (热点区域市场, seed 003 §2.3): a set of cells drawn by hand — a campus, a market
town, a compound, an industrial park. Areas may overlap; a subscriber has one home district but
belongs to every hot area whose cells hold their home or work cell (the location model's
``home_cell`` / ``work_cell`` tags).

Membership is a condition of the one condition language (``home_cell IN (...) OR work_cell IN
(...)``), so a hot area's count, list, profile and saved group are the audience engine's, at the
engine's speed, and the user's region scope is ANDed in like any audience's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import numpy as np

CELL_ID = re.compile(r"^[0-9A-Za-z-]{4,32}$")  # the data model's cell id pattern
MAX_CELLS = 5_000  # a hot area is small by definition; a province-sized one is a mistake


class Basis(StrEnum):
    """Which of a subscriber's cells puts them in the area."""

    HOME = "home"  # lives there (night-time dominant cell)
    WORK = "work"  # works or studies there (working-hours dominant cell)
    EITHER = "either"  # lives or works there


BASIS_COLUMNS = {
    Basis.HOME: ("home_cell",),
    Basis.WORK: ("work_cell",),
    Basis.EITHER: ("home_cell", "work_cell"),
}


class HotAreaError(ValueError):
    """A hot area that cannot be saved or queried; the message says why."""


def check_cells(cells: Iterable[str]) -> list[str]:
    """Distinct, sorted, valid cell ids; raises HotAreaError on a bad id, none, or too many."""
    out = sorted({str(c).strip() for c in cells if str(c).strip()})
    bad = [c for c in out if not CELL_ID.match(c)]
    if bad:
        raise HotAreaError(f"not a cell id: {bad[0]!r}")
    if not out:
        raise HotAreaError("a hot area needs at least one cell: draw a polygon or pick cells on the map")
    if len(out) > MAX_CELLS:
        raise HotAreaError(f"{len(out):,} cells: a hot area holds at most {MAX_CELLS:,}")
    return out


def membership_condition(
    cells: Sequence[str], basis: Basis | str, columns: Mapping[str, Mapping[str, Any]]
) -> str:
    """The condition selecting the area's subscribers, over the index ``columns`` (the engine's
    ``index.columns``). Cells nobody lives or works in are left out of the IN lists (the index knows
    no such value); an area with none of its cells known selects nobody (``FALSE``)."""
    b = Basis(basis)
    parts = []
    for col in BASIS_COLUMNS[b]:
        meta = columns.get(col)
        if meta is None:
            raise HotAreaError(
                f"the index has no {col} column: build the location model's tags (tagcloud models run, then build)"
            )
        known = set(meta.get("values") or ())
        hit = [c for c in check_cells(cells) if c in known]
        if hit:
            parts.append(f"{col} IN (" + ", ".join(f"'{c}'" for c in hit) + ")")
    return " OR ".join(parts) if parts else "FALSE"


def cells_in_polygon(
    cell_ids: Sequence[str], lat: np.ndarray, lon: np.ndarray, polygon: Sequence[Sequence[float]]
) -> list[str]:
    """Cells whose (lat, lon) lies inside ``polygon`` (a ring of [lon, lat] points as drawn on the
    map, closed or not): the even–odd ray test over all cells at once."""
    ring = np.asarray(polygon, dtype=float)
    if ring.ndim != 2 or ring.shape[1] != 2 or len(ring) < 3:
        raise HotAreaError("a polygon needs at least three [lon, lat] points")
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    xs, ys = ring[:, 0], ring[:, 1]
    inside = np.zeros(len(x), dtype=bool)
    for i in range(len(ring)):  # loop over the polygon's edges (a handful), not the cells
        x1, y1, x2, y2 = xs[i - 1], ys[i - 1], xs[i], ys[i]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < at)
    return [cell_ids[int(i)] for i in np.flatnonzero(inside)]
