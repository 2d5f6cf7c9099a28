"""Saved groups (目标号码群), set operations on them and control groups (对照组).

A saved group is a snapshot in ``WAREHOUSE/groups/<name>/``:

* ``group.json`` — name, kind, the condition text, the index build that produced it, member count,
  when, and for control groups the campaign, share, seed and strata;
* ``members.roaring`` — member ids of that build (portable Roaring);
* ``members.parquet`` — the members' numbers, so a campaign can say whom it targeted even after
  the dictionary moves on.

``holdouts.json`` in the same folder registers each campaign's holdout; a new control group
never takes a subscriber that another campaign holds out (nor targets one in its action group).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.audience.index import value_key
from tagcloud.audience.paths import groups_root

# Reading saved groups lives below the query engine (stored.py); these stay importable from here.
from tagcloud.audience.stored import GroupInfo, _folder, group_members, read_group

if TYPE_CHECKING:
    import polars as pl
    from pyroaring import BitMap

    from tagcloud.audience.query import AudienceEngine

SET_OPS = {"union": "OR", "intersect": "AND", "minus": "AND NOT"}


def save_bitmap(
    engine: AudienceEngine, name: str, bm: BitMap, info: dict[str, Any], overwrite: bool = False
) -> GroupInfo:
    """Write a member bitmap and its numbers as group ``name``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = _folder(engine.warehouse, name)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"group {name!r} exists already (choose another name or overwrite)")
    g = GroupInfo(
        name=name,
        build_id=engine.index.build_id,
        members=len(bm),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        **info,
    )
    tmp = folder.with_name(folder.name + ".saving")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "members.roaring").write_bytes(bm.serialize())
    ids = np.frombuffer(bm.to_array(), dtype=np.uint32)
    numbers = np.asarray(engine.index.dictionary.msisdn_by_id[ids]).astype(np.int64)
    pq.write_table(pa.table({"msisdn": pc.cast(pa.array(numbers), pa.string())}), tmp / "members.parquet")
    (tmp / "group.json").write_text(json.dumps(asdict(g), ensure_ascii=False, indent=1), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return g


def save_group(engine: AudienceEngine, name: str, condition: str, overwrite: bool = False) -> GroupInfo:
    """Run ``condition`` and keep its members as group ``name`` (with the condition and build id)."""
    cond = f"({condition}) AND ({engine.scope})" if engine.scope else condition
    return save_bitmap(
        engine, name, engine.members(condition), {"kind": "audience", "condition": cond}, overwrite
    )


def combine(
    engine: AudienceEngine, name: str, op: str, groups: list[str], overwrite: bool = False
) -> GroupInfo:
    """Save ``union`` / ``intersect`` / ``minus`` of saved groups (left to right) as a new group."""
    if op not in SET_OPS:
        raise ValueError(f"combine: operation {op!r} is not one of {', '.join(SET_OPS)}")
    if len(groups) < 2:
        raise ValueError("combine: give at least two groups")
    condition = f" {SET_OPS[op]} ".join(f"in_group('{g}')" for g in groups)
    g = save_bitmap(
        engine, name, engine.members(condition), {"kind": "combine", "condition": condition}, overwrite
    )
    return g


def list_groups(warehouse: Path) -> pl.DataFrame:
    """Every saved group with its kind, size, build and condition."""
    import polars as pl

    rows = [
        asdict(read_group(warehouse, p.name))
        for p in sorted(groups_root(warehouse).glob("*"))
        if (p / "group.json").exists()
    ]
    cols = ["name", "kind", "members", "build_id", "created_at", "campaign", "condition"]
    return pl.DataFrame(
        [{k: r[k] for k in cols} for r in rows],
        schema={k: (pl.Int64 if k == "members" else pl.String) for k in cols},
    )


# ---- control groups ---------------------------------------------------------------------------


def _registry_path(warehouse: Path) -> Path:
    return groups_root(warehouse) / "holdouts.json"


def holdouts(warehouse: Path) -> dict[str, str]:
    """Campaign → name of its holdout group."""
    p = _registry_path(warehouse)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}


def release_holdout(warehouse: Path, campaign: str) -> None:
    """Forget a campaign's holdout (after its evaluation): its members may be held out again."""
    reg = holdouts(warehouse)
    if reg.pop(campaign, None) is None:
        raise KeyError(f"campaign {campaign!r} has no registered holdout")
    _registry_path(warehouse).write_text(json.dumps(reg, indent=1), encoding="utf-8")


def _scores(numbers: np.ndarray, seed: int) -> np.ndarray:
    """A uniform 64-bit score per number (splitmix64 of number and seed): the same every run."""
    with np.errstate(over="ignore"):
        z = numbers.astype(np.uint64) + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def strata_codes(
    engine: AudienceEngine,
    ids: np.ndarray,
    strata: list[str],
    tiers: int = 3,
    labels: dict[str, list[str]] | None = None,
) -> np.ndarray:
    """One stratum code per member id: enums by value, numbers by ``tiers`` quantile tiers.

    When ``labels`` is given it receives, per stratum column, the label of every member.
    """
    code = np.zeros(len(ids), dtype=np.int64)
    for name in strata:
        col = engine.index.column(name)
        if col["kind"] == "enum":
            part = np.zeros(len(ids), dtype=np.int64)  # 0 = null
            from pyroaring import BitMap

            page = BitMap(ids)
            for j, v in enumerate(col["counts"], start=1):
                hit = np.frombuffer(engine._union(value_key(name, v), page).to_array(), dtype=np.uint32)
                part[np.searchsorted(ids, hit)] = j
            width = len(col["counts"]) + 1
            names = np.array(["(null)", *col["counts"]], dtype=object)
        elif col["kind"] in ("number", "date"):
            vals = engine._decode(name, ids, raw=True)
            has = np.array([v is not None for v in vals])
            x = np.where(has, np.array([v if v is not None else 0.0 for v in vals], dtype=float), 0.0)
            edges = np.quantile(x[has], np.arange(1, tiers) / tiers) if has.any() else np.array([])
            part = np.where(has, np.searchsorted(edges, x, side="right") + 1, 0)
            width = tiers + 1
            names = np.array(["(null)", *(f"tier {t}/{tiers}" for t in range(1, tiers + 1))], dtype=object)
        else:
            raise ValueError(f"control group: cannot stratify by {name!r}, a {col['kind']}")
        code = code * width + part
        if labels is not None:
            labels[name] = names[part].tolist()
    return code


def control_group(
    engine: AudienceEngine,
    campaign: str,
    target: str,
    share: float,
    seed: int = 0,
    strata: list[str] | None = None,
    overwrite: bool = False,
) -> pl.DataFrame:
    """Hold out ``share`` of the audience in every stratum, reproducibly, for ``campaign``.

    Saves ``<campaign>.action`` and ``<campaign>.control``, registers the holdout, and returns
    per stratum: members, action, control. Subscribers held out by another campaign are in neither.
    """
    import polars as pl
    from pyroaring import BitMap

    if not 0 < share < 1:
        raise ValueError(f"control group: share {share} must be between 0 and 1")
    reg = holdouts(engine.warehouse)
    if campaign in reg and not overwrite:
        raise FileExistsError(f"campaign {campaign!r} already has a holdout ({reg[campaign]})")
    if strata is None:
        strata = [s for s in ("county_id", "arpu") if s in engine.index.columns]
    audience = engine.members(target)
    others = [group_members(engine.warehouse, g, engine.index) for c, g in reg.items() if c != campaign]
    eligible = audience - BitMap.union(BitMap(), *others) if others else audience
    ids = np.frombuffer(eligible.to_array(), dtype=np.uint32)
    numbers = np.asarray(engine.index.dictionary.msisdn_by_id[ids])
    labels: dict[str, list[str]] = {}
    stratum = strata_codes(engine, ids, strata, labels=labels)
    score = _scores(numbers, seed)
    order = np.lexsort((score, stratum))
    s_sorted = stratum[order]
    _, first, sizes = np.unique(s_sorted, return_index=True, return_counts=True)
    quota = np.floor(sizes * share + 0.5).astype(np.int64)
    rank = np.arange(len(order)) - np.repeat(first, sizes)
    held = np.zeros(len(ids), dtype=bool)
    held[order[rank < np.repeat(quota, sizes)]] = True
    control = BitMap(ids[held])
    action = BitMap(ids[~held])
    info = {"condition": target, "campaign": campaign, "share": share, "seed": seed, "strata": strata}
    save_bitmap(engine, f"{campaign}.action", action, {"kind": "action", **info}, overwrite)
    save_bitmap(engine, f"{campaign}.control", control, {"kind": "control", **info}, overwrite)
    reg[campaign] = f"{campaign}.control"
    _registry_path(engine.warehouse).write_text(json.dumps(reg, indent=1), encoding="utf-8")
    rep = order[first]  # one member of each stratum names it
    named = {name: [labels[name][i] for i in rep.tolist()] for name in strata}
    return pl.DataFrame({**named, "members": sizes, "control": quota, "action": sizes - quota})
