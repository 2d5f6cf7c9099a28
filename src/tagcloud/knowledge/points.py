"""A quick point's parts and the checks every save goes through.

behaviour (a condition in the one condition language, :mod:`tagcloud.tags.condition`) → knowledge
(a customer-insight label in one of the seed's dimensions, slide 33) → recommended products (each
with a reason and a product strategy, slide 34).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tagcloud.tags.condition import Condition, ConditionError, NameInfo, parse_condition


class Dimension(StrEnum):
    """The dimensions of customer-insight knowledge (客户洞察知识的维度, seed 001 slide 33)."""

    DEMOGRAPHICS = "demographics"  # 人口统计: gender, age, life stage, family, occupation, income
    WORK_AREA = "work_area"  # 社会信息 · 工作区域: business, industrial, campus area
    HOME_AREA = "home_area"  # 社会信息 · 居住区域
    CAR_OWNER = "car_owner"  # 社会信息 · 是否车主
    HOME_OWNER = "home_owner"  # 社会信息 · 是否自购住房
    CIRCLE = "circle"  # 社会信息 · 社交圈
    INTEREST = "interest"  # 性格心理 · 兴趣爱好: film, music, travel, photography, games, sport, life


DIMENSION_NAMES: dict[Dimension, tuple[str, str]] = {
    Dimension.DEMOGRAPHICS: ("人口统计", "demographics"),
    Dimension.WORK_AREA: ("工作区域", "work area"),
    Dimension.HOME_AREA: ("居住区域", "home area"),
    Dimension.CAR_OWNER: ("车主", "car owner"),
    Dimension.HOME_OWNER: ("自购住房", "home owner"),
    Dimension.CIRCLE: ("社交圈", "social circle"),
    Dimension.INTEREST: ("兴趣爱好", "interests"),
}


class Strategy(StrEnum):
    """Product strategy of a recommendation (推荐产品的维度, slide 34)."""

    CROSS_SELL = "cross_sell"  # 新产品交叉销售
    UPSELL = "upsell"  # 新产品叠加销售 / 价值提升
    RETENTION = "retention"  # 客户关怀挽留
    NEW_PRODUCT = "new_product"  # 产品开发
    PRODUCT_CHANGE = "product_change"  # 产品优化
    RETIREMENT = "retirement"  # 产品退出


STRATEGY_NAMES: dict[Strategy, tuple[str, str]] = {
    Strategy.CROSS_SELL: ("交叉销售", "cross-sell"),
    Strategy.UPSELL: ("叠加销售", "upsell"),
    Strategy.RETENTION: ("关怀挽留", "retention"),
    Strategy.NEW_PRODUCT: ("新产品", "new product"),
    Strategy.PRODUCT_CHANGE: ("产品优化", "product change"),
    Strategy.RETIREMENT: ("产品退出", "retirement"),
}

MAX_PRODUCTS = 10
MAX_TEXT = 4000


class PointError(ValueError):
    """A quick point that cannot be saved; ``field`` names the part, ``suggestion`` the closest name."""

    def __init__(self, field: str, message: str, suggestion: str | None = None) -> None:
        self.field = field
        self.message = message
        self.suggestion = suggestion
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Recommendation:
    """One recommended product: catalogue id, why, and the strategy it serves."""

    product_id: str
    reason: str
    strategy: Strategy

    def as_dict(self) -> dict[str, str]:
        return {"product_id": self.product_id, "reason": self.reason, "strategy": self.strategy.value}


def check_condition(text: str, names: Mapping[str, NameInfo]) -> Condition:
    """The behaviour as a checked condition; PointError (with the closest name) when it does not
    parse, names an unknown attribute or tag, or names a saved group (a snapshot, not a behaviour)."""
    try:
        cond = parse_condition(text, names)
    except ConditionError as e:
        raise PointError("condition", str(e), e.suggestion) from None
    if cond.groups:
        raise PointError(
            "condition", "a quick point describes behaviour: saved groups (in_group) are not allowed"
        )
    return cond


def check_recommendations(
    rows: Sequence[Mapping[str, Any]], products: Mapping[str, str]
) -> list[Recommendation]:
    """Recommended products checked against the catalogue ``products`` (id → name): each known,
    once, with a reason and a strategy; at least one."""
    out: list[Recommendation] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, 1):
        pid = str(row.get("product_id") or "").strip()
        if not pid:
            continue
        if pid not in products:
            close = difflib.get_close_matches(pid, list(products), n=1)
            raise PointError(
                f"product {i}", f"{pid!r} is not in the product catalogue", close[0] if close else None
            )
        if pid in seen:
            raise PointError(f"product {i}", f"{pid!r} is recommended twice")
        seen.add(pid)
        reason = str(row.get("reason") or "").strip()
        if not reason:
            raise PointError(f"product {i}", f"say why {pid} suits this group")
        try:
            strategy = Strategy(str(row.get("strategy") or ""))
        except ValueError:
            raise PointError(
                f"product {i}", f"strategy must be one of {', '.join(s.value for s in Strategy)}"
            ) from None
        out.append(Recommendation(pid, reason[:MAX_TEXT], strategy))
    if not out:
        raise PointError("products", "recommend at least one product")
    if len(out) > MAX_PRODUCTS:
        raise PointError("products", f"at most {MAX_PRODUCTS} products")
    return out


def check_dimension(value: str) -> Dimension:
    try:
        return Dimension(value)
    except ValueError:
        raise PointError("dimension", f"one of {', '.join(d.value for d in Dimension)}") from None


def render_version(fields: Mapping[str, Any]) -> list[str]:
    """A version as lines of text (what the diff compares): one line per field, one per product."""
    lines = [
        f"title: {fields.get('title', '')}",
        f"condition: {fields.get('condition', '')}",
        f"knowledge: {fields.get('knowledge', '')}",
        f"dimension: {fields.get('dimension', '')}",
        f"scope: {fields.get('region_id') or 'province'}",
    ]
    lines += [f"description: {line}" for line in str(fields.get("description") or "").splitlines()]
    for p in fields.get("products") or []:
        lines.append(f"product: {p.get('product_id')} [{p.get('strategy')}] {p.get('reason')}")
    return lines


def diff_versions(
    old: Mapping[str, Any], new: Mapping[str, Any], old_label: str, new_label: str
) -> list[str]:
    """Unified diff between two versions' texts (empty when they are the same)."""
    return list(
        difflib.unified_diff(render_version(old), render_version(new), old_label, new_label, lineterm="", n=1)
    )
