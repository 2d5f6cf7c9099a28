"""Writing the audience index: the wide table → ``WAREHOUSE/index/<build_id>/`` (layout in
:mod:`tagcloud.audience.index`), switched to atomically. Apart from the reading side so that a
build may use the engine itself (knowledge tags are evaluated as conditions over the columns just
written) without an import circle."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tagcloud.audience import bsi as bsi_mod
from tagcloud.audience.dictionary import Dictionary, assign_ids
from tagcloud.audience.index import (
    BATCH_COLUMNS,
    DEFAULT_SHARD_SIZE,
    FORMAT,
    INDEXED_KINDS,
    REGION_COLUMNS,
    AudienceIndex,
    IndexError_,
    build_row_store,
    null_key,
    value_key,
)
from tagcloud.audience.paths import current_index_dir, index_root, warehouse_root, wide_dir
from tagcloud.audience.roaring import BITS_PER_CONTAINER, pack_mask, words_to_bytes
from tagcloud.progress import job


@dataclass
class _ShardWriter:
    folder: Path
    lo: int
    hi: int
    offsets: dict[str, list[int]] = field(default_factory=dict)
    size: int = 0

    def __post_init__(self) -> None:
        (self.folder / "bsi").mkdir(parents=True, exist_ok=True)
        self._file = open(self.folder / "bitmaps.bin", "wb")  # noqa: SIM115 — closed in close()

    def add(self, key: str, words: np.ndarray) -> None:
        from pyroaring import BitMap

        data = words_to_bytes(words[self.lo // 64 : self.hi // 64], self.lo // BITS_PER_CONTAINER)
        bm = BitMap.deserialize(data)
        # region and plan bitmaps are long runs thanks to the id order: keep them as run containers
        if bm.run_optimize():
            data = bm.serialize()
        self._file.write(data)
        self.offsets[key] = [self.size, len(data)]
        self.size += len(data)

    def close(self) -> None:
        self._file.close()
        (self.folder / "bitmaps.json").write_text(json.dumps(self.offsets), encoding="utf-8")


def _read_meta(folder: Path) -> dict[str, Any]:
    meta_path = folder / "meta.json"
    if not (folder / "wide.parquet").exists() or not meta_path.exists():
        raise FileNotFoundError(f"wide table: {folder} needs wide.parquet and meta.json (run the tag build)")
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    for k in ("build_id", "columns"):
        if k not in meta:
            raise IndexError_(f"wide table meta.json: missing {k!r}")
    return meta


def _numbers(table: Any) -> np.ndarray:
    import pyarrow.compute as pc

    from tagcloud.data.model import MOBILE_NUMBER

    col = table.column("msisdn")
    if col.null_count:
        raise IndexError_(f"wide table: msisdn has {col.null_count} empty values")
    ok = pc.match_substring_regex(col, MOBILE_NUMBER)
    if not pc.all(ok).as_py():
        bad = pc.filter(col, pc.invert(ok))[0].as_py()
        raise IndexError_(f"wide table: msisdn {bad!r} is not an 11-digit mobile number")
    numbers = pc.cast(col, "uint64").to_numpy()
    if len(np.unique(numbers)) != len(numbers):
        raise IndexError_("wide table: msisdn is not unique (one row per subscriber expected)")
    return numbers


def _codes(col: Any) -> tuple[np.ndarray, list[str]]:
    """A string column → int32 codes (-1 = null) and its distinct values."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(col).combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False)
    codes = np.where(enc.indices.is_null().to_numpy(zero_copy_only=False), -1, codes).astype(np.int32)
    return codes, [str(v) for v in enc.dictionary.to_pylist()]


def build_index(
    warehouse: Path | str | None = None,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
    quiet: bool = False,
) -> Path:
    """Index ``WAREHOUSE/wide/current`` into ``WAREHOUSE/index/<build_id>/`` and make it current."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wh = warehouse_root(warehouse)
    src = wide_dir(wh)
    meta = _read_meta(src)
    if shard_size <= 0 or shard_size % BITS_PER_CONTAINER:
        raise IndexError_(f"shard size {shard_size}: must be a positive multiple of {BITS_PER_CONTAINER}")
    pf = pq.ParquetFile(src / "wide.parquet")
    present = set(pf.schema_arrow.names)
    for col in ("msisdn", *REGION_COLUMNS):
        if col not in present:
            raise IndexError_(f"wide table: column {col!r} is missing")
    columns = [c for c in meta["columns"] if c.get("kind") in INDEXED_KINDS]
    for c in columns:
        if c["name"] not in present:
            raise IndexError_(f"wide table: meta.json names column {c['name']!r} but wide.parquet has none")
    skipped = [c["name"] for c in meta["columns"] if c.get("kind") not in INDEXED_KINDS]

    started = datetime.now(UTC)
    head = pf.read(columns=["msisdn", *REGION_COLUMNS, *(["brand"] if "brand" in present else [])])
    numbers = _numbers(head)
    order_keys = [_codes(head.column(c))[0] for c in head.column_names[1:]]
    previous = None
    with contextlib.suppress(FileNotFoundError):
        previous = Dictionary.load(current_index_dir(wh) / "dictionary")
    dictionary = assign_ids(numbers, order_keys, previous)
    n_ids = dictionary.n_ids
    # row_of_id: where each id's row is; holes point at an extra all-false row
    row_of_id = np.full(n_ids, len(numbers), dtype=np.int64)
    row_of_id[dictionary.ids_of(numbers)] = np.arange(len(numbers))

    id_of_row = dictionary.ids_of(numbers)
    alive_by_id = np.zeros(n_ids, dtype=bool)
    alive_by_id[id_of_row] = True

    def by_id(mask_rows: np.ndarray) -> np.ndarray:
        # scatter only the minority side: most tags are sparse, a few near-universal; a full
        # gather of every row per column was the build's main cost
        rows = np.flatnonzero(mask_rows)
        if len(rows) <= len(mask_rows) // 2:
            out = np.zeros(n_ids, dtype=bool)
            out[id_of_row[rows]] = True
        else:
            out = alive_by_id.copy()
            out[id_of_row[np.flatnonzero(~mask_rows)]] = False
        return pack_mask(out)

    out = index_root(wh) / meta["build_id"]
    tmp = out.with_name(out.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    dictionary.save(tmp / "dictionary")
    shard_ranges = [
        (lo, min(lo + shard_size, -(-n_ids // BITS_PER_CONTAINER) * BITS_PER_CONTAINER))
        for lo in range(0, max(n_ids, 1), shard_size)
    ]
    writers = [_ShardWriter(tmp / f"shard-{i:04d}", lo, hi) for i, (lo, hi) in enumerate(shard_ranges)]

    def add_all(key: str, words: np.ndarray) -> None:
        for w in writers:
            w.add(key, words)

    add_all("_alive", by_id(np.ones(len(numbers), dtype=bool)))

    manifest_cols: dict[str, dict[str, Any]] = {}
    region_meta = [
        {
            "name": c,
            "kind": "enum",
            "label_zh": z,
            "label_en": c.replace("_id", ""),
            "category": "region",
            "values": None,
        }
        for c, z in zip(REGION_COLUMNS, ("地市", "区县", "乡镇/片区"), strict=True)
    ]
    todo = region_meta + columns
    batches = [todo[i : i + BATCH_COLUMNS] for i in range(0, len(todo), BATCH_COLUMNS)]
    with job("audience index", total=len(todo), unit="columns", quiet=quiet) as j:
        for batch in batches:
            table = pf.read(columns=[c["name"] for c in batch])
            for c in batch:
                name, kind = c["name"], c["kind"]
                col = table.column(name)
                entry: dict[str, Any] = {k: c.get(k) for k in ("kind", "label_zh", "label_en", "category")}
                nulls = col.is_null().to_numpy(zero_copy_only=False)
                entry["nulls"] = int(nulls.sum())
                if entry["nulls"]:
                    add_all(null_key(name), by_id(nulls))
                if kind == "flag":
                    truth = pc.fill_null(col.cast("bool"), False).to_numpy(zero_copy_only=False).astype(bool)
                    entry["count"] = int(truth.sum())
                    add_all(name, by_id(truth))
                elif kind == "enum":
                    codes, seen = _codes(col)
                    declared = list(c.get("values") or [])
                    values = declared + sorted(v for v in seen if v not in declared)
                    counts = dict(
                        zip(seen, np.bincount(codes[codes >= 0], minlength=len(seen)).tolist(), strict=True)
                    )
                    # one gather into id order per column, not per value (a township column has 100s)
                    codes_by_id = np.append(codes, -1)[row_of_id]
                    for j_val, v in enumerate(seen):
                        add_all(value_key(name, v), pack_mask(codes_by_id == j_val))
                    entry["values"] = values
                    entry["counts"] = {v: counts.get(v, 0) for v in values}
                else:
                    entry.update(_write_bsi(name, kind, col, nulls, row_of_id, writers))
                manifest_cols[name] = entry
                j.advance(1, rows=1)
            del table
    for w in writers:
        w.close()
    manifest = {
        "format": FORMAT,
        "build_id": meta["build_id"],
        "period": meta.get("period"),
        "wide_built_at": meta.get("built_at"),
        "indexed_at": started.isoformat(timespec="seconds"),
        "n_ids": n_ids,
        "subscribers": len(numbers),
        "shard_size": shard_size,
        "shards": [{"folder": w.folder.name, "lo": w.lo, "hi": w.hi} for w in writers],
        "columns": manifest_cols,
        "not_indexed": skipped,
        "build_seconds": round((datetime.now(UTC) - started).total_seconds(), 2),
        "bytes": sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    _add_published_tags(tmp, wh, manifest)
    manifest["lookup_bytes"] = build_row_store(tmp)
    manifest["bytes"] += manifest["lookup_bytes"]
    manifest["build_seconds"] = round((datetime.now(UTC) - started).total_seconds(), 2)
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    # a re-index of the same build: the old folder steps aside first, so a reader between the two
    # renames meets a missing folder for an instant, never a half-written one
    aside = out.with_name(out.name + ".old")
    shutil.rmtree(aside, ignore_errors=True)
    if out.exists():
        out.rename(aside)
    tmp.rename(out)
    shutil.rmtree(aside, ignore_errors=True)
    # the pointer is replaced whole: a kill mid-write must not leave CURRENT naming half a build id
    pointer = index_root(wh) / "CURRENT"
    staged = pointer.with_name(f"CURRENT.{os.getpid()}.tmp")
    staged.write_text(meta["build_id"], encoding="utf-8")
    os.replace(staged, pointer)
    return out


def _write_bsi(
    name: str, kind: str, col: Any, nulls: np.ndarray, row_of_id: np.ndarray, writers: list[_ShardWriter]
) -> dict[str, Any]:
    import pyarrow as pa

    if kind == "date":
        col = col.cast(pa.date32()).cast(pa.int32())  # days since 1970-01-01, as DuckDB compares dates
    elif pa.types.is_decimal(col.type):
        # DECIMAL(p, s) values are short decimals: the nearest doubles encode back exactly at scale s
        col = col.cast(pa.float64())
    raw = col.to_numpy(zero_copy_only=False)
    has = ~nulls
    values = np.asarray(raw[has])
    if values.dtype == object:
        raise IndexError_(f"wide table: column {name!r} of kind {kind} is not numeric")
    if values.dtype == bool:
        values = values.astype(np.int64)
    spec, codes, distinct = bsi_mod.encode(values)
    codes_rows = np.zeros(len(nulls) + 1, dtype=np.uint64)
    codes_rows[np.flatnonzero(has)] = codes
    codes_by_id = codes_rows[row_of_id]
    has_by_id = np.append(has, False)[row_of_id]
    slices = [pack_mask(has_by_id)] + [
        pack_mask(((codes_by_id >> np.uint64(k)) & np.uint64(1)).astype(bool)) for k in range(spec.bits)
    ]
    stacked = np.stack(slices)
    for w in writers:
        np.save(w.folder / "bsi" / f"{name}.npy", np.ascontiguousarray(stacked[:, w.lo // 64 : w.hi // 64]))
        if distinct is not None:
            np.save(w.folder / "bsi" / f"{name}.distinct.npy", distinct)
    return {
        "bsi": {"encoding": spec.encoding, "scale": spec.scale, "offset": spec.offset, "bits": spec.bits},
        "count": len(values),
        "min": float(values.min()) if len(values) else None,
        "max": float(values.max()) if len(values) else None,
        "sum": float(values.sum()) if len(values) else 0.0,
    }


def _add_published_tags(folder: Path, warehouse: Path, manifest: dict[str, Any]) -> None:
    """Evaluate the warehouse's published knowledge tags (``tags/published.json``) with the audience
    engine over the columns just written, and add each as a flag column (category ``knowledge``).

    A tag whose rule no longer checks against this build (a column gone) is left out and named in
    the manifest's ``published_skipped`` with the checker's message, so one stale point cannot stop
    the index."""
    from pyroaring import BitMap

    from tagcloud.audience.query import AudienceEngine
    from tagcloud.tags.condition import ConditionError
    from tagcloud.tags.published import CATEGORY, read_published

    tags = read_published(warehouse)
    if not tags:
        return
    engine = AudienceEngine(AudienceIndex(folder), warehouse)
    names = engine.names(with_groups=False)
    skipped: dict[str, str] = {}
    computed: list[tuple[Any, BitMap]] = []
    for t in tags:
        if t.id in manifest["columns"]:
            skipped[t.id] = "a column of the wide table has this name"
            continue
        try:
            from tagcloud.tags.condition import parse_condition

            parse_condition(t.rule, names)
            computed.append((t, engine.members(t.rule)))
        except (ConditionError, KeyError) as e:
            skipped[t.id] = str(e).split("\n")[0]
    for s in manifest["shards"]:
        shard_dir = folder / s["folder"]
        offsets = json.loads((shard_dir / "bitmaps.json").read_text(encoding="utf-8"))
        size = (shard_dir / "bitmaps.bin").stat().st_size
        with open(shard_dir / "bitmaps.bin", "ab") as f:
            for t, members in computed:
                part = BitMap(members)
                part.intersection_update(BitMap(range(s["lo"], s["hi"])))
                part.run_optimize()
                data = part.serialize()
                f.write(data)
                offsets[t.id] = [size, len(data)]
                size += len(data)
        (shard_dir / "bitmaps.json").write_text(json.dumps(offsets), encoding="utf-8")
    for t, members in computed:
        manifest["columns"][t.id] = {
            "kind": "flag",
            "label_zh": t.name_zh,
            "label_en": t.name_en or t.name_zh,
            "category": CATEGORY,
            "nulls": 0,
            "count": len(members),
            "rule": t.rule,
            "reads": list(t.reads),
            "owner": t.owner,
            "definition_zh": t.definition_zh,
            "definition_en": t.definition_en,
        }
    manifest["published_skipped"] = skipped
    (folder / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
