"""The long tail of a knowledge group on a hand-made wide table: shares, lifts and the niche
call-out are exactly what the rows say."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.query import AudienceEngine

    n = 1_000
    i = list(range(n))
    golfer = [k < 100 for k in i]  # the knowledge group: 100 of 1,000
    columns = {
        "msisdn": [str(13800000000 + k) for k in i],
        "city_id": ["C01" if k % 2 else "C02" for k in i],
        "county_id": ["C01K01" if k % 2 else "C02K01" for k in i],
        "township_id": ["C01K01T01" if k % 2 else "C02K01T01" for k in i],
        "golfer": golfer,
        "holds_item_golf": [k < 8 for k in i],  # 0.8% of the province, all golfers: niche, lift 10
        "holds_item_car": [k % 5 == 0 for k in i],  # 20% everywhere: lift 1
        "holds_item_news": [k >= 900 for k in i],  # 10%, no golfer: lift 0
    }
    wh = tmp_path_factory.mktemp("lt")
    out = wh / "wide" / "current"
    out.mkdir(parents=True)
    pq.write_table(pa.table(columns), out / "wide.parquet")
    meta = {
        "build_id": "lt-1",
        "columns": [
            {
                "name": "golfer",
                "kind": "flag",
                "category": "interest",
                "label_zh": "高尔夫",
                "label_en": "golf",
            }
        ]
        + [
            {"name": c, "kind": "flag", "category": "product_item", "label_zh": c, "label_en": c}
            for c in columns
            if c.startswith("holds_item_")
        ],
    }
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    build_index(wh, quiet=True)
    return AudienceEngine.open(wh)


def test_shares_lifts_and_niche(engine: Any) -> None:
    from tagcloud.knowledge.longtail import long_tail

    lt = long_tail(engine, engine, "golfer")
    assert (lt.group_size, lt.province_size) == (100, 1_000)
    by = {r.column: r for r in lt.products}
    assert [r.column for r in lt.products] == ["holds_item_golf", "holds_item_car", "holds_item_news"]
    assert by["holds_item_golf"].share == pytest.approx(0.08) and by["holds_item_golf"].lift == pytest.approx(
        10
    )
    assert by["holds_item_car"].lift == pytest.approx(1.0) and by["holds_item_news"].lift == 0
    assert [r.column for r in lt.niche] == ["holds_item_golf"]
    # none of the three: golfers k in [0, 100) not golf (k >= 8) and not car (k % 5) → 92 - 18 = 74
    assert lt.none_share == pytest.approx(74 / 100)
    assert lt.province_none_share == pytest.approx(
        sum(1 for k in range(1000) if k >= 8 and k % 5 and k < 900) / 1000
    )


def test_scoped_group_against_the_province(engine: Any) -> None:
    import dataclasses

    from tagcloud.knowledge.longtail import long_tail

    county = dataclasses.replace(engine, scope="county_id = 'C01K01'")  # odd rows
    lt = long_tail(county, engine, "golfer")
    assert lt.group_size == 50 and lt.province_size == 1_000
    golf = next(r for r in lt.products if r.column == "holds_item_golf")
    assert golf.members == 4 and golf.province_share == pytest.approx(0.008)
