"""Find products for a knowledge group (为客户找产品, seed 001 slides 22–25, 36): the penetration of
every product in the group against the province, ranked by lift, with the niche products (< 1% of
the province) that the group over-uses called out, and the share using none of them ("52% use no
content product")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tagcloud.audience.query import AudienceEngine

NICHE_SHARE = 0.01  # a product held by under 1% of the province is niche (小众产品)
NICHE_LIFT = 2.0  # … and called out when the group holds it at least twice as often


@dataclass(frozen=True)
class ProductShare:
    """One product (a product flag of the index) in the group and in the province."""

    column: str
    label_zh: str
    label_en: str
    members: int  # group members holding it
    share: float  # of the group
    province_share: float
    lift: float | None  # share / province_share (None: nobody in the province holds it)
    niche: bool  # niche in the province and over-represented in the group


@dataclass(frozen=True)
class LongTail:
    condition: str
    group_size: int
    province_size: int
    products: list[ProductShare]  # ranked by lift, highest first
    none_share: float  # share of the group holding none of the products
    province_none_share: float

    @property
    def niche(self) -> list[ProductShare]:
        return [p for p in self.products if p.niche]


PRODUCT_CATEGORIES = ("product_item", "product")  # product by product when the build has it, else by kind


def product_columns(engine: AudienceEngine) -> list[str]:
    """The index's product flags: one per product (category ``product_item``: 产品持有明细) when the
    build has them, else one per product kind (``product``: 产品持有)."""
    for category in PRODUCT_CATEGORIES:
        cols = [
            n
            for n, c in engine.index.columns.items()
            if c.get("kind") == "flag" and c.get("category") == category
        ]
        if cols:
            return cols
    return []


def long_tail(group: AudienceEngine, province: AudienceEngine, condition: str) -> LongTail:
    """Penetration of every product among ``condition``'s members as ``group`` sees them (the
    user's scope) against everyone ``province`` sees (unscoped: the province)."""
    cols = product_columns(group)
    if not cols:
        raise ValueError("this build has no product flags (category 'product') to compare")
    g = group.profile(condition, cols)
    p = province.profile("TRUE", cols)
    holds_none = " AND ".join(f"NOT {c}" for c in cols)
    gshare = dict(zip(g["column"].to_list(), g["share"].to_list(), strict=True))
    gmembers = dict(zip(g["column"].to_list(), g["members"].to_list(), strict=True))
    pshare = dict(zip(p["column"].to_list(), p["share"].to_list(), strict=True))
    size = group.count(condition)
    everyone = province.count("TRUE")
    rows = []
    for c in cols:
        meta = group.index.columns[c]
        ps = float(pshare.get(c, 0.0))
        gs = float(gshare.get(c, 0.0)) if size else 0.0
        lift = gs / ps if ps > 0 else None
        rows.append(
            ProductShare(
                c,
                str(meta.get("label_zh") or c),
                str(meta.get("label_en") or meta.get("label_zh") or c),
                int(gmembers.get(c, 0)),
                gs,
                ps,
                lift,
                ps < NICHE_SHARE and lift is not None and lift >= NICHE_LIFT and gmembers.get(c, 0) > 0,
            )
        )
    rows.sort(key=lambda r: (-(r.lift or 0.0), -r.share, r.column))
    return LongTail(
        condition,
        size,
        everyone,
        rows,
        group.count(f"({condition}) AND {holds_none}") / size if size else 0.0,
        province.count(holds_none) / everyone if everyone else 0.0,
    )
