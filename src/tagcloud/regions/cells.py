"""Cell information maintenance (区域市场基础资料信息维护, seed 003 §2.4): cells change every week.

:func:`detect_changes` compares the network feed's latest cell drop (the warehouse's ``cells``
table) with the reference cells the platform uses for region membership, and names each new,
changed and retired cell with the fields that differ. The web app turns each into a task for the
region's owner to classify (rural / family compound / campus / business / hot area, the serving
channel) and a reviewer to approve; an approved change is written to the reference cell, with a
version, so the next tag build places subscribers by it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FIELDS = ("lat", "lon", "rat", "township_id", "area_type", "site_id", "site_name")
COORD_TOLERANCE = 1e-6  # degrees: a re-export that rounds differently is not a move
# What the owner classifies a cell as (seed §2.4: 农村基站小区, 家庭社区基站小区 …) → area type codes.
CLASSES = {
    "rural": ("农村", "rural", ("rural_township",)),
    "family": ("家庭社区", "family compound", ("urban_residential",)),
    "campus": ("校园", "campus", ("university", "middle_school")),
    "business": ("商务/园区", "business", ("business_district", "industrial_park")),
    "hot_area": ("热点区域", "hot area", ("transport_hub", "tourist_site", "highway", "golf_course")),
}
STALE_DAYS = 7  # an unclassified change older than this raises a reminder


class ChangeKind(StrEnum):
    NEW = "new"  # in the feed, not in the reference
    CHANGED = "changed"  # in both, some field differs
    RETIRED = "retired"  # in the reference, gone from the feed


@dataclass(frozen=True)
class CellChange:
    cell_id: str
    kind: ChangeKind
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()  # the fields that differ (all of them for new / retired)


def _same(name: str, a: Any, b: Any) -> bool:
    if name in ("lat", "lon") and a is not None and b is not None:
        return abs(float(a) - float(b)) <= COORD_TOLERANCE
    return (a or None) == (b or None)


def detect_changes(
    feed: Iterable[Mapping[str, Any]], reference: Iterable[Mapping[str, Any]]
) -> list[CellChange]:
    """New, changed and retired cells, sorted by cell id. Both sides are rows with ``cell_id`` and
    FIELDS (the warehouse's ``cells`` rows; the reference Cell rows with ``township_id``)."""
    new = {str(r["cell_id"]): {f: r.get(f) for f in FIELDS} for r in feed}
    old = {str(r["cell_id"]): {f: r.get(f) for f in FIELDS} for r in reference}
    out = []
    for cid in sorted(new.keys() | old.keys()):
        a, b = old.get(cid), new.get(cid)
        if a is None and b is not None:
            out.append(CellChange(cid, ChangeKind.NEW, {}, b, FIELDS))
        elif b is None and a is not None:
            out.append(CellChange(cid, ChangeKind.RETIRED, a, {}, FIELDS))
        elif a is not None and b is not None:
            diff = tuple(f for f in FIELDS if not _same(f, a[f], b[f]))
            if diff:
                out.append(CellChange(cid, ChangeKind.CHANGED, a, b, diff))
    return out


def feed_cells(warehouse: Any) -> list[dict[str, Any]]:
    """The latest cell drop of the network feed: the warehouse's ``cells`` table as rows."""
    from tagcloud.data.warehouse import Warehouse

    wh = warehouse if isinstance(warehouse, Warehouse) else Warehouse(warehouse)
    con = wh.connect(threads=1)
    try:
        cols = ", ".join(("cell_id", *FIELDS))
        tbl = con.sql(f"SELECT {cols} FROM cells ORDER BY cell_id").to_arrow_table()
    finally:
        con.close()
    return tbl.to_pylist()


def area_types_of(klass: str) -> tuple[str, ...]:
    if klass not in CLASSES:
        raise ValueError(f"class {klass!r}: one of {', '.join(CLASSES)}")
    return CLASSES[klass][2]


def is_stale(detected_at: dt.datetime, now: dt.datetime, days: int = STALE_DAYS) -> bool:
    return now - detected_at > dt.timedelta(days=days)
