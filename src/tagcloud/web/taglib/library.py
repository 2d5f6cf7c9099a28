"""What the tag-library pages show, gathered from the tags module's catalogue (口径, rules,
lineage, owners, versions) and the audience index (counts per build = coverage). When the
catalogue cannot be loaded, the index's own column labels and categories still give a tree."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_catalogue: dict[Any, Any] = {}  # (warehouse, overrides' state) → compiled catalogue or None


def _overrides_state(warehouse: Path) -> tuple[Any, ...]:
    # An approval (here or by `tagcloud tags status`) rewrites an override: reload then.
    from tagcloud.tags.governance import overrides_dir

    folder = overrides_dir(warehouse)
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.yaml")))


def catalogue() -> Any | None:
    """The effective catalogue of the platform's warehouse (package definitions with its approved
    versions over them), loaded once per state of the overrides; None when it cannot be loaded."""
    from tagcloud.web.warehouse import warehouse_dir

    wh = warehouse_dir()
    key = (str(wh), _overrides_state(wh))
    with _lock:
        if key not in _catalogue:
            _catalogue.clear()
            try:
                from tagcloud.tags.governance import load_effective_catalogue

                _catalogue[key] = load_effective_catalogue(wh)
            except Exception:  # the pages fall back to the index's labels; the CLI reports why
                _catalogue[key] = None
        return _catalogue[key]


def forget() -> None:
    """Drop the loaded catalogue (after an approval wrote a new version)."""
    with _lock:
        _catalogue.clear()


@dataclass
class Entry:
    """One attribute or tag as the library lists it."""

    name: str
    name_zh: str
    name_en: str
    category: str
    kind: str
    is_tag: bool
    count: int | None = None  # subscribers holding it (flag) or with a value, current build
    definition_zh: str = ""
    definition_en: str = ""
    status: str = ""
    owner: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def label(self, lang: str) -> str:
        return self.name_en if lang.startswith("en") and self.name_en else self.name_zh or self.name


def entries(columns: dict[str, dict[str, Any]]) -> dict[str, Entry]:
    """Every attribute and tag: the catalogue's when loaded, completed with the index's counts."""
    out: dict[str, Entry] = {}
    cat = catalogue()
    if cat is not None:
        for a in cat.attributes.values():
            out[a.id] = Entry(
                a.id,
                a.name_zh,
                a.name_en,
                a.category,
                str(a.kind),
                False,
                definition_zh=a.description,
                extra={"attr": a},
            )
        for t in cat.tags.values():
            out[t.id] = Entry(
                t.id,
                t.name_zh,
                t.name_en,
                t.category,
                str(t.kind),
                True,
                definition_zh=t.definition_zh,
                definition_en=t.definition_en,
                status=str(t.status),
                owner=t.owner,
                extra={"tag": t},
            )
    # Statuses and versions as governed in the application database (when loaded there).
    for tid, (status, version) in statuses().items():
        e = out.get(tid)
        # A newer version in the catalogue (`tagcloud tags status` since the last load-tags) wins.
        if e is not None and e.is_tag and status and version >= e.extra["tag"].version:
            e.status = status
            e.extra["version"] = version
    for name, meta in columns.items():
        if meta.get("category") == "region":
            continue
        e = out.get(name)
        if e is None:
            e = out[name] = Entry(
                name,
                str(meta.get("label_zh") or name),
                str(meta.get("label_en") or ""),
                str(meta.get("category") or "other"),
                str(meta.get("kind")),
                meta.get("kind") == "flag",
            )
            if "rule" in meta:  # a published knowledge tag (tagcloud.tags.published): 口径, owner, rule
                e.definition_zh = str(meta.get("definition_zh") or "")
                e.definition_en = str(meta.get("definition_en") or "")
                e.owner = str(meta.get("owner") or "")
                e.status = "online"
                e.extra = {"rule": meta["rule"], "reads": list(meta.get("reads") or [])}
        e.count = meta.get("count") if meta.get("kind") == "flag" else meta.get("count", None)
        if meta.get("kind") == "enum":
            e.count = sum(int(v) for v in (meta.get("counts") or {}).values())
    return out


def category_name(category: str, lang: str) -> str:
    """A category's name from the catalogue in the user's language (its id when not catalogued)."""
    cat = catalogue()
    c = cat.categories.get(category) if cat is not None else None
    if c is None:
        return category
    return str(c.name_en if lang.startswith("en") else c.name_zh)


def value_label(name: str, value: str, lang: str) -> str:
    """An enum value's name (the tag's value list in the catalogue, else the model's code tables)."""
    cat = catalogue()
    tag = cat.tags.get(name) if cat is not None else None
    for v in getattr(tag, "values", ()) or ():
        if v.value == value:
            return str(v.name_en if lang.startswith("en") else v.name_zh)
    from tagcloud.data.codes import CODE_TABLES, label
    from tagcloud.data.model import SUBSCRIBERS

    # Wide-table columns copied from the subscribers table carry its code table (status → subscriber_status).
    table = (
        name if name in CODE_TABLES else next((c.codes for c in SUBSCRIBERS.columns if c.name == name), None)
    )
    if table:
        return label(table, value, "en" if lang.startswith("en") else "zh")
    return value


def tree(items: dict[str, Entry], lang: str) -> list[dict[str, Any]]:
    """Aspect → category → entries, with counts of entries per node (the tree on the left)."""
    cat = catalogue()
    names: dict[str, tuple[str, str]] = {}
    if cat is not None:
        names = {
            c.id: (c.aspect, c.name_en if lang.startswith("en") else c.name_zh)
            for c in cat.categories.values()
        }
    aspects: dict[str, dict[str, list[Entry]]] = {}
    for e in items.values():
        aspect, _ = names.get(e.category, ("", e.category))
        aspects.setdefault(aspect or "—", {}).setdefault(e.category, []).append(e)
    try:
        from tagcloud.tags.catalogue import ASPECTS
    except ImportError:
        ASPECTS = {}
    en = lang.startswith("en")
    titles = {a: (v[1] if en else v[0]) for a, v in ASPECTS.items()}
    titles["—"] = "not in the catalogue" if en else "未编目 (仅在当前构建中)"
    return [
        {
            "aspect": titles.get(aspect, aspect),
            "size": sum(len(v) for v in cats.values()),
            "categories": [
                {"id": c, "name": names.get(c, ("", c))[1], "entries": sorted(es, key=lambda e: e.name)}
                for c, es in sorted(cats.items())
            ],
        }
        for aspect, cats in sorted(aspects.items())
    ]


def search(items: dict[str, Entry], q: str) -> list[Entry]:
    """Entries whose id, Chinese or English name or 口径 contains ``q`` (case-insensitive)."""
    q = q.strip().lower()
    if not q:
        return []
    return [
        e
        for e in items.values()
        if q in e.name.lower()
        or q in e.name_zh.lower()
        or q in e.name_en.lower()
        or q in e.definition_zh.lower()
        or q in e.definition_en.lower()
    ]


def coverage(index_root: Path, name: str, last: int = 12) -> list[dict[str, Any]]:
    """Share of subscribers holding ``name`` in each of the last builds (from their manifests)."""
    points = []
    manifests = sorted(index_root.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)[-last:]
    for path in manifests:
        try:
            m = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        col = m.get("columns", {}).get(name)
        subs = int(m.get("subscribers") or 0)
        if col is None or not subs:
            continue
        n = col.get("count") if col.get("kind") != "enum" else sum((col.get("counts") or {}).values())
        points.append(
            {
                "build": m.get("build_id"),
                "at": m.get("indexed_at"),
                "members": n,
                "share": round(100 * (n or 0) / subs, 2),
            }
        )
    return points


def statuses() -> dict[str, tuple[str, int]]:
    """Each tag's current status and version, from its latest version row (governance writes them)."""
    from tagcloud.web.taglib.models import TagVersion

    out: dict[str, tuple[str, int]] = {}
    for tag, version, status in TagVersion.objects.order_by("tag", "version").values_list(
        "tag", "version", "status"
    ):
        out[tag] = (status, version)  # ordered by version: the last one wins
    return out
