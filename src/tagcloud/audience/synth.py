"""A generator of subscriber wide tables for tests and the benchmark.

It writes exactly what the tag builder publishes (``wide/current/wide.parquet`` + ``meta.json``):
one row per subscriber, home region columns, then flags, enums and numbers with mixed densities,
nulls and columns correlated through a hidden value tier and the region, so that bitmaps compress
the way real ones do. Rows come out in number order shuffled, not by region: ordering ids is the
dictionary's job. Everything is drawn with numpy a row group at a time (bounded memory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tagcloud.progress import job

CITIES = 5
COUNTIES_PER_CITY = 4
TOWNSHIPS_PER_COUNTY = 6
CATEGORIES = ("product", "behaviour", "interest", "handset", "channel", "social")
BRANDS = ("gotone", "mzone", "easyown")
AGE_BANDS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown")


@dataclass(frozen=True)
class WideSpec:
    """Shape of a synthetic wide table: rows and how many columns of each kind."""

    rows: int = 10_000
    flags: int = 40
    enums: int = 4
    numbers: int = 4
    seed: int = 7
    row_group: int = 1_000_000
    null_share: float = 0.02  # share of nulls in the columns that have nulls at all


def _region_ids() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    town = [
        f"C{c:02d}K{k:02d}T{t:02d}"
        for c in range(1, CITIES + 1)
        for k in range(1, COUNTIES_PER_CITY + 1)
        for t in range(1, TOWNSHIPS_PER_COUNTY + 1)
    ]
    towns = np.array(town, dtype=object)
    counties = np.array([t[:6] for t in town], dtype=object)
    cities = np.array([t[:3] for t in town], dtype=object)
    return cities, counties, towns


def _columns(spec: WideSpec, rng: np.random.Generator) -> list[dict]:
    """Column metadata plus the hidden generation parameters (keys starting with '_')."""
    cols: list[dict] = [
        {
            "name": "brand",
            "kind": "enum",
            "label_zh": "品牌",
            "label_en": "brand",
            "category": "basic",
            "values": list(BRANDS),
            "_tier_skew": 1.5,
            "_nulls": False,
        },
        {
            "name": "age_band",
            "kind": "enum",
            "label_zh": "年龄段",
            "label_en": "age band",
            "category": "basic",
            "values": list(AGE_BANDS),
            "_tier_skew": 0.3,
            "_nulls": False,
        },
        {
            "name": "arpu",
            "kind": "number",
            "label_zh": "ARPU(元)",
            "label_en": "ARPU (yuan)",
            "category": "value",
            "values": None,
            "_mean": 3.6,
            "_sd": 0.7,
            "_decimals": 2,
            "_int": False,
            "_nulls": True,
        },
        {
            "name": "dou_mb",
            "kind": "number",
            "label_zh": "DOU(MB)",
            "label_en": "data use (MB)",
            "category": "value",
            "values": None,
            "_mean": 7.5,
            "_sd": 1.2,
            "_decimals": 1,
            "_int": False,
            "_nulls": True,
        },
        {
            "name": "mou",
            "kind": "number",
            "label_zh": "MOU(分钟)",
            "label_en": "minutes of use",
            "category": "value",
            "values": None,
            "_mean": 5.2,
            "_sd": 1.0,
            "_decimals": 0,
            "_int": True,
            "_nulls": False,
        },
        {
            "name": "tenure_months",
            "kind": "number",
            "label_zh": "在网时长(月)",
            "label_en": "tenure (months)",
            "category": "basic",
            "values": None,
            "_mean": 3.5,
            "_sd": 0.9,
            "_decimals": 0,
            "_int": True,
            "_nulls": False,
        },
    ]
    for i in range(spec.flags):
        # log-uniform densities from 0.05% to 70%, a few near-universal ones
        density = float(np.exp(rng.uniform(np.log(0.0005), np.log(0.7))))
        if rng.random() < 0.03:
            density = float(rng.uniform(0.85, 0.99))
        cat = CATEGORIES[i % len(CATEGORIES)]
        name = f"{'prod' if cat == 'product' else 'tag'}_{i:04d}"
        cols.append(
            {
                "name": name,
                "kind": "flag",
                "label_zh": f"标签{i:04d}",
                "label_en": f"tag {i}",
                "category": cat,
                "values": None,
                "_density": density,
                "_tier_mult": rng.uniform(0.3, 1.7, 5).tolist(),
                "_nulls": bool(rng.random() < 0.1),
            }
        )
    for i in range(spec.enums):
        k = int(rng.integers(2, 13))
        cols.append(
            {
                "name": f"enum_{i:03d}",
                "kind": "enum",
                "label_zh": f"分类{i:03d}",
                "label_en": f"category {i}",
                "category": CATEGORIES[i % len(CATEGORIES)],
                "values": [f"v{j:02d}" for j in range(k)],
                "_tier_skew": float(rng.uniform(0, 1)),
                "_nulls": bool(rng.random() < 0.3),
            }
        )
    for i in range(spec.numbers):
        integer = bool(rng.random() < 0.5)
        cols.append(
            {
                "name": f"num_{i:03d}",
                "kind": "number",
                "label_zh": f"指标{i:03d}",
                "label_en": f"measure {i}",
                "category": "usage",
                "values": None,
                "_mean": float(rng.uniform(1, 6)),
                "_sd": float(rng.uniform(0.3, 1.5)),
                "_decimals": 0 if integer else int(rng.integers(1, 3)),
                "_int": integer,
                "_nulls": bool(rng.random() < 0.4),
            }
        )
    return cols


def _draw_column(col: dict, n: int, tier: np.ndarray, rng: np.random.Generator, null_share: float):
    import pyarrow as pa

    nulls = (rng.random(n, dtype=np.float32) < null_share) if col["_nulls"] else None
    kind = col["kind"]
    if kind == "flag":
        p = (col["_density"] * np.asarray(col["_tier_mult"], dtype=np.float32))[tier]
        return pa.array(rng.random(n, dtype=np.float32) < p, type=pa.bool_(), mask=nulls)
    if kind == "enum":
        k = len(col["values"])
        # the tier shifts the chosen value: correlated enums, skewed frequencies
        base = np.floor(rng.power(2.0, n) * k).astype(np.int32)
        shift = np.round(tier * col["_tier_skew"]).astype(np.int32)
        codes = np.clip(base - shift + 1, 0, k - 1) if col["_tier_skew"] else base
        arr = pa.DictionaryArray.from_arrays(pa.array(codes, mask=nulls), pa.array(col["values"]))
        return arr.cast(pa.string())
    value = np.exp(rng.normal(col["_mean"] + 0.25 * (tier - 2), col["_sd"], n))
    if col["_int"]:
        return pa.array(np.round(value).astype(np.int64), type=pa.int64(), mask=nulls)
    return pa.array(np.round(value, col["_decimals"]), type=pa.float64(), mask=nulls)


def write_wide(warehouse: Path, spec: WideSpec, build_id: str | None = None, quiet: bool = False) -> Path:
    """Write ``warehouse/wide/current/{wide.parquet,meta.json}`` for ``spec``; return the folder."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if spec.rows <= 0 or spec.rows > 90_000_000:
        raise ValueError(f"synthetic wide table: rows must be in 1..90,000,000, not {spec.rows}")
    out = Path(warehouse) / "wide" / "current"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    cols = _columns(spec, rng)
    cities, counties, towns = _region_ids()
    town_weights = rng.dirichlet(np.full(len(towns), 2.0))
    # unique 11-digit numbers 130…, in shuffled order
    numbers = 13_000_000_000 + np.arange(spec.rows, dtype=np.int64) * 9 + rng.integers(0, 9, spec.rows)
    rng.shuffle(numbers)
    fields = [
        pa.field("msisdn", pa.string()),
        pa.field("city_id", pa.string()),
        pa.field("county_id", pa.string()),
        pa.field("township_id", pa.string()),
    ]
    types = {"flag": pa.bool_(), "enum": pa.string()}
    for c in cols:
        fields.append(
            pa.field(c["name"], types.get(c["kind"]) or (pa.int64() if c["_int"] else pa.float64()))
        )
    schema = pa.schema(fields)
    path = out / "wide.parquet"
    starts = list(range(0, spec.rows, spec.row_group))
    with (
        job("synthetic wide table", total=len(starts), quiet=quiet) as j,
        pq.ParquetWriter(path, schema, compression="zstd") as writer,
    ):
        for g, lo in enumerate(starts):
            hi = min(lo + spec.row_group, spec.rows)
            n = hi - lo
            crng = np.random.default_rng([spec.seed, g])
            town = crng.choice(len(towns), n, p=town_weights)
            # the value tier depends on the city: regions differ in wealth
            tier = np.clip(np.round(crng.normal(2 + (town // 24 - 2) * 0.4, 1.0, n)), 0, 4).astype(np.int64)
            arrays = [
                pc.cast(pa.array(numbers[lo:hi]), pa.string()),
                pa.array(cities[town], type=pa.string()),
                pa.array(counties[town], type=pa.string()),
                pa.array(towns[town], type=pa.string()),
            ]
            arrays += [_draw_column(c, n, tier, crng, spec.null_share) for c in cols]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            j.advance(1, rows=n)
    meta = {
        "build_id": build_id or f"synth-{spec.seed}-{spec.rows}",
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "period": "2026-10",
        "columns": [{k: v for k, v in c.items() if not k.startswith("_")} for c in cols],
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return out
