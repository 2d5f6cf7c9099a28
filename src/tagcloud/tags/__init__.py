"""The tag library: the catalogue of attributes and tags, the condition language, the builders.

For other modules:

* :func:`tagcloud.tags.condition.parse_condition` — the one condition language;
* :func:`current_names` — the ``Mapping[str, NameInfo]`` of the published wide table, to pass to
  ``parse_condition`` (audience engine, web);
* :func:`tagcloud.tags.catalogue.load_catalogue` — the governed definitions with lineage;
* :func:`tagcloud.tags.build.build` — compute the wide table (``WAREHOUSE/wide/current``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tagcloud.tags.condition import NameInfo


def current_meta(warehouse: Path | str) -> dict:
    """``meta.json`` of the published wide table; FileNotFoundError naming the path if none."""
    path = Path(warehouse) / "wide" / "current" / "meta.json"
    if not path.is_file():
        raise FileNotFoundError(f"no published wide table at {path.parent}: run `tagcloud build` first")
    return json.loads(path.read_text(encoding="utf-8"))


def current_names(warehouse: Path | str, groups: list[str] | tuple[str, ...] = ()) -> dict[str, NameInfo]:
    """Names a condition may use over the published build: its attribute and tag columns, the
    region columns, and the given saved ``groups``."""
    from tagcloud.tags.condition import NameInfo, NameKind

    meta = current_meta(warehouse)
    names: dict[str, NameInfo] = {
        r: NameInfo(r, NameKind.TEXT) for r in ("city_id", "county_id", "township_id")
    }
    for c in meta["columns"]:
        kind = NameKind(c["kind"])
        values = tuple(c["values"]) if kind == NameKind.ENUM and c.get("values") else None
        names[c["name"]] = NameInfo(c["name"], kind, values)
    for g in groups:
        names[g] = NameInfo(g, NameKind.GROUP)
    return names
