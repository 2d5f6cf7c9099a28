"""Reading saved groups (``WAREHOUSE/groups/<name>/``, see ``groups``): their ``group.json`` and
their members as ids of an index. The query engine reads groups named in conditions through this
module; writing them, set operations and control groups are ``groups``, which sits above the engine."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tagcloud.audience.paths import groups_root

if TYPE_CHECKING:
    from pyroaring import BitMap

    from tagcloud.audience.index import AudienceIndex

_NAME = re.compile(r"^[\w\-.]{1,80}$")


@dataclass
class GroupInfo:
    """What ``group.json`` holds."""

    name: str
    kind: str  # audience | combine | action | control
    condition: str
    build_id: str
    members: int
    created_at: str
    campaign: str | None = None
    share: float | None = None
    seed: int | None = None
    strata: list[str] = field(default_factory=list)


def _folder(warehouse: Path, name: str) -> Path:
    if not _NAME.match(name) or name.startswith("."):
        raise ValueError(f"group name {name!r}: use letters, digits, '_', '-' or '.' (at most 80)")
    return groups_root(warehouse) / name


def read_group(warehouse: Path, name: str) -> GroupInfo:
    folder = _folder(warehouse, name)
    path = folder / "group.json"
    if not path.exists():
        known = sorted(p.name for p in groups_root(warehouse).glob("*") if (p / "group.json").exists())
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"saved group {name!r} does not exist{hint}")
    return GroupInfo(**json.loads(path.read_text(encoding="utf-8")))


def group_members(warehouse: Path, name: str, index: AudienceIndex) -> BitMap:
    """Members of a saved group as ids of ``index``: the stored bitmap when the build matches, else
    its numbers looked up in the index's dictionary (departed subscribers drop out)."""
    import pyarrow.parquet as pq
    from pyroaring import BitMap

    g = read_group(warehouse, name)
    folder = _folder(warehouse, name)
    if g.build_id == index.build_id:
        return BitMap.deserialize((folder / "members.roaring").read_bytes())
    numbers = pq.read_table(folder / "members.parquet").column("msisdn").cast("uint64").to_numpy()
    ids = index.dictionary.ids_of(numbers)
    return BitMap(np.sort(ids[ids >= 0]).astype(np.uint32))
