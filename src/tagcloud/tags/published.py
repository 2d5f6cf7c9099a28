"""Tags published into the library from outside the definitions files: knowledge tags (知识标签).

A marketer's verified quick point (营销快点吧) becomes a flag tag ``kp_<id>`` whose rule is the
point's condition in the one condition language over the wide table's attributes and tags. They
are kept in ``WAREHOUSE/tags/published.json`` (written atomically by the knowledge wiki) and
evaluated by the audience index after every other column (:func:`tagcloud.audience.indexer.build_index`),
with the audience engine itself, so a knowledge tag's count is by construction the count of its
condition, and every subscriber carries the knowledge labels they match (reverse lookup, profiles,
campaign targets). Their 口径 is the condition, their owner the point's author, their lineage the
names the condition reads.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "kp_"  # tag id of the quick point with id N: kp_N
CATEGORY = "knowledge"


@dataclass(frozen=True)
class PublishedTag:
    """One knowledge tag: id ``kp_<n>``, names, rule (the condition), 口径, owner and what it reads."""

    id: str
    name_zh: str
    name_en: str
    rule: str
    definition_zh: str
    definition_en: str
    owner: str
    version: int = 1
    reads: tuple[str, ...] = ()  # lineage: the attributes and tags the rule names
    products: tuple[str, ...] = ()  # products the point recommends (shown with the tag)
    dimension: str = ""  # the knowledge dimension (demographics, social, interest)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id.startswith(PREFIX) or not self.id[len(PREFIX) :].isdigit():
            raise ValueError(f"published tag id {self.id!r}: must be {PREFIX}<number>")


def published_path(warehouse: Path | str) -> Path:
    return Path(warehouse) / "tags" / "published.json"


def read_published(warehouse: Path | str) -> list[PublishedTag]:
    """The knowledge tags published in a warehouse, in id order (none when the file is absent)."""
    path = published_path(warehouse)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from None
    out = []
    for entry in doc.get("tags", []):
        entry = dict(entry)
        entry["reads"] = tuple(entry.get("reads") or ())
        entry["products"] = tuple(entry.get("products") or ())
        out.append(PublishedTag(**entry))
    return sorted(out, key=lambda t: int(t.id[len(PREFIX) :]))


def write_published(warehouse: Path | str, tags: Iterable[PublishedTag]) -> Path:
    """Replace the warehouse's published knowledge tags (atomically: an index build reading the file
    never sees half of it)."""
    path = published_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(t) for t in sorted(tags, key=lambda t: int(t.id[len(PREFIX) :]))]
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"tags": rows}, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)
    return path
