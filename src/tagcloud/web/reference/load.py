"""Load the reference data from the warehouse into the platform's database (idempotent upserts).

Regions are loaded parents first so every foreign key resolves; a row whose parent or township is
unknown is refused with an error naming it, rather than silently dropped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from tagcloud.data.codes import CODE_TABLES
from tagcloud.web.reference.models import LEVEL_ORDER, Cell, Channel, Product, Region


class ReferenceLoadError(ValueError):
    """Reference rows that cannot be loaded (unknown parent, unknown level, missing column)."""


@dataclass(frozen=True)
class LoadCounts:
    regions: int
    cells: int
    products: int
    channels: int


def _require(rows: list[dict[str, Any]], table: str, columns: tuple[str, ...]) -> None:
    if rows:
        missing = [c for c in columns if c not in rows[0]]
        if missing:
            raise ReferenceLoadError(f"{table}: missing column(s) {', '.join(missing)}")


@transaction.atomic
def load_regions(rows: list[dict[str, Any]]) -> int:
    """Upsert regions given as dicts with the ``regions`` model columns; returns the row count."""
    _require(rows, "regions", ("region_id", "name", "level", "parent_id"))
    levels = {lv: i for i, lv in enumerate(LEVEL_ORDER)}
    bad = sorted({str(r["level"]) for r in rows} - set(levels))
    if bad:
        raise ReferenceLoadError(f"regions: unknown level(s) {', '.join(bad)}; expected {', '.join(levels)}")
    known = set(Region.objects.values_list("region_id", flat=True)) | {r["region_id"] for r in rows}
    orphans = [r["region_id"] for r in rows if r["parent_id"] and r["parent_id"] not in known]
    if orphans:
        raise ReferenceLoadError(f"regions: parent not found for {', '.join(orphans[:5])}")
    # Parents first, so the self-reference always points at a saved row.
    for r in sorted(rows, key=lambda r: levels[str(r["level"])]):
        Region.objects.update_or_create(
            region_id=r["region_id"],
            defaults={
                "name": r["name"],
                "name_en": r.get("name_en") or "",
                "level": r["level"],
                "parent_id": r["parent_id"] or None,
                "is_urban": r.get("is_urban"),
            },
        )
    return len(rows)


@transaction.atomic
def load_cells(rows: list[dict[str, Any]]) -> int:
    """Upsert cells (``cells`` model columns); their township must already be a region."""
    _require(rows, "cells", ("cell_id", "lat", "lon", "rat", "township_id", "area_type"))
    towns = set(Region.objects.values_list("region_id", flat=True))
    unknown = sorted({r["township_id"] for r in rows} - towns)
    if unknown:
        raise ReferenceLoadError(f"cells: township not in regions: {', '.join(unknown[:5])}")
    fields = ["lat", "lon", "rat", "township", "area_type", "site_id", "site_name", "opened"]
    objs = [
        Cell(
            cell_id=r["cell_id"],
            lat=r["lat"],
            lon=r["lon"],
            rat=r["rat"],
            township_id=r["township_id"],
            area_type=r["area_type"],
            site_id=r.get("site_id") or "",
            site_name=r.get("site_name") or "",
            opened=r.get("opened"),
        )
        for r in rows
    ]
    Cell.objects.bulk_create(
        objs, batch_size=2000, update_conflicts=True, unique_fields=["cell_id"], update_fields=fields
    )
    return len(objs)


@transaction.atomic
def load_products(rows: list[dict[str, Any]]) -> int:
    """Upsert products (``products`` model columns)."""
    _require(rows, "products", ("product_id", "name", "kind"))
    fields = ["name", "name_en", "kind", "monthly_fee", "data_mb", "voice_min", "requires_5g", "launched"]
    objs = [Product(**{"product_id": r["product_id"], **{f: r.get(f) for f in fields}}) for r in rows]
    for o in objs:
        o.name_en = o.name_en or ""
    Product.objects.bulk_create(
        objs, batch_size=2000, update_conflicts=True, unique_fields=["product_id"], update_fields=fields
    )
    return len(objs)


@transaction.atomic
def load_channels() -> int:
    """Create the channels of the ``channel`` code table (names kept if an admin edited them)."""
    for c in CODE_TABLES["channel"]:
        Channel.objects.get_or_create(code=c.code, defaults={"name": c.zh, "name_en": c.en})
    return len(CODE_TABLES["channel"])


def load_from_duckdb(con: Any) -> LoadCounts:
    """Load regions, cells and products from a DuckDB connection that has those tables (views)."""

    def rows(table: str) -> list[dict[str, Any]]:
        return con.sql(f"SELECT * FROM {table}").to_arrow_table().to_pylist()

    return LoadCounts(
        regions=load_regions(rows("regions")),
        cells=load_cells(rows("cells")),
        products=load_products(rows("products")),
        channels=load_channels(),
    )


def load_from_warehouse(path: Path) -> LoadCounts:
    """Load the reference data from the warehouse at ``path`` (see ``tagcloud.data.warehouse``)."""
    if not path.exists():
        raise ReferenceLoadError(f"warehouse {path} does not exist; run `tagcloud ingest` first")
    from tagcloud.data.warehouse import Warehouse

    con = Warehouse(path).connect()
    try:
        return load_from_duckdb(con)
    finally:
        con.close()
