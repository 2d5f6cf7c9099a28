"""The demo's quick points: a YAML file of points (``data/seed_points.yaml`` by default), read and
checked for shape here; the wiki app stores them (``tagcloud.web.knowledge.seed``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_SEED = Path(__file__).parent / "data" / "seed_points.yaml"
REQUIRED = ("title", "condition", "knowledge", "dimension", "products")


def read_seed(path: Path | str | None = None) -> list[dict[str, Any]]:
    """The points of a seed file; ValueError naming the entry and the missing field."""
    p = Path(path) if path is not None else DEFAULT_SEED
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{p}: not valid YAML: {e}") from None
    points = doc.get("points") if isinstance(doc, dict) else None
    if not isinstance(points, list):
        raise ValueError(f"{p}: expected a list under 'points:'")
    for i, entry in enumerate(points, 1):
        if not isinstance(entry, dict):
            raise ValueError(f"{p}: point {i} is not a mapping")
        missing = [k for k in REQUIRED if not entry.get(k)]
        if missing:
            raise ValueError(f"{p}: point {i} ({entry.get('title', '?')}) lacks {', '.join(missing)}")
    return points
