"""What other systems read of the wiki: the verified quick points, as published knowledge tags.

The contract is the warehouse file ``tags/published.json`` (:mod:`tagcloud.tags.published`), which
the wiki rewrites whenever an editor verifies or withdraws a point. Reading it needs no Django and
no database, so the tag build, the audience index and the matching library all read the same thing.

>>> from tagcloud.knowledge.wiki import verified_points
>>> for point_id, condition, products, reason in verified_points("var/demo/warehouse"):
...     print(point_id, condition, products, reason)
kp_3 calls_traffic_radio >= 2 ('P_CAR',) 有车一族: 车主服务 — 常拨交通台热线的客户多为车主
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from tagcloud.tags.published import PREFIX, PublishedTag, read_published


class VerifiedPoint(NamedTuple):
    """One verified quick point as the matching library uses it (layer 2, marketers' experience).

    ``point_id``: its knowledge tag id (``kp_<n>``, a flag column of the audience index);
    ``condition``: the behaviour in the one condition language, including the point's region when
    it is scoped to a city or county; ``products``: recommended product ids, best first;
    ``reason``: the knowledge label and each product's reason, one text."""

    point_id: str
    condition: str
    products: tuple[str, ...]
    reason: str

    @property
    def service(self) -> str:
        """The first (best) recommended product, for consumers that take one service per point."""
        return self.products[0] if self.products else ""

    @property
    def product_id(self) -> str:
        return self.service


def tag_id(point_pk: int) -> str:
    """The knowledge tag id of quick point number ``point_pk``."""
    return f"{PREFIX}{int(point_pk)}"


def scoped_condition(condition: str, region_level: str | None, region_id: str | None) -> str:
    """The point's condition limited to its region (province-wide points are not limited). Region
    ids are codes from the reference data; quotes are doubled anyway."""
    if not region_id or region_level in (None, "province"):
        return condition
    if region_level not in ("city", "county", "township"):
        raise ValueError(f"region level {region_level!r}: one of province, city, county, township")
    rid = region_id.replace("'", "''")
    return f"({condition}) AND {region_level}_id = '{rid}'"


def published_tag(
    point_pk: int,
    fields: Mapping[str, Any],
    *,
    owner: str,
    version: int,
    reads: Sequence[str],
    region_level: str | None,
) -> PublishedTag:
    """A verified version of a point (``fields``: title, condition, knowledge, knowledge_en,
    dimension, products, region_id) as the knowledge tag the index evaluates."""
    products = [p for p in fields.get("products") or []]
    rule = scoped_condition(str(fields["condition"]), region_level, fields.get("region_id"))
    knowledge = str(fields.get("knowledge") or fields.get("title") or "")
    why = "; ".join(f"{p['product_id']}: {p.get('reason', '')}" for p in products)
    return PublishedTag(
        id=tag_id(point_pk),
        name_zh=knowledge,
        name_en=str(fields.get("knowledge_en") or knowledge),
        rule=rule,
        definition_zh=f"营销快点 #{point_pk}《{fields.get('title', '')}》: 满足 {rule} 的客户 → {knowledge}",
        definition_en=f"Quick point #{point_pk} '{fields.get('title', '')}': subscribers with {rule} → {knowledge}",
        owner=owner,
        version=version,
        reads=tuple(sorted(set(reads))),
        products=tuple(str(p["product_id"]) for p in products),
        dimension=str(fields.get("dimension") or ""),
        extra={"title": str(fields.get("title") or ""), "why": why},
    )


def published_points(warehouse: Path | str) -> list[PublishedTag]:
    """Every published knowledge tag of the warehouse (full records), in point order."""
    return read_published(warehouse)


def verified_points(warehouse: Path | str | None = None) -> list[VerifiedPoint]:
    """The verified quick points of ``warehouse`` (default ``$TAGCLOUD_WAREHOUSE`` / ``var/warehouse``)
    as ``(point_id, condition, products, reason)``; empty when none is published yet."""
    from tagcloud.audience.paths import warehouse_root

    out = []
    for t in read_published(warehouse_root(warehouse)):
        why = str(t.extra.get("why") or "")
        out.append(VerifiedPoint(t.id, t.rule, t.products, f"{t.name_zh}: {why}" if why else t.name_zh))
    return out
