"""Knowledge tags: a verified point published into the warehouse is a flag column of the audience
index whose count is its condition's count, and what the matching library reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tagcloud.knowledge.wiki import published_tag, scoped_condition, verified_points
from tagcloud.tags.published import PublishedTag, read_published, write_published


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tagcloud.audience.synth import WideSpec, write_wide

    wh = tmp_path_factory.mktemp("wh")
    write_wide(wh, WideSpec(rows=6_000, flags=8), quiet=True)
    return wh


def _tag(n: int, rule: str, **kw: object) -> PublishedTag:
    fields = {"title": f"point {n}", "condition": rule, "knowledge": f"知识{n}", "products": [], **kw}
    return published_tag(n, fields, owner="alice", version=1, reads=[], region_level=kw.get("level"))  # type: ignore[arg-type]


def test_published_tag_counts_as_its_condition(wh: Path) -> None:
    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.query import AudienceEngine

    rule = "arpu >= 60 AND NOT tag_0001"
    write_published(
        wh,
        [
            _tag(1, rule),
            _tag(2, "age_band = '18-24'", region_id="C01", level="city"),
            _tag(3, "no_such_column > 1"),  # stale: left out, named in the manifest
        ],
    )
    build_index(wh, quiet=True)
    eng = AudienceEngine.open(wh)
    assert eng.index.columns["kp_1"]["category"] == "knowledge"
    assert eng.count("kp_1") == eng.count(rule) > 0
    assert eng.count("kp_1 AND brand = 'gotone'") == eng.count(f"({rule}) AND brand = 'gotone'")
    assert eng.count("NOT kp_1") == eng.index.subscribers - eng.count(rule)
    # a city point's tag holds only that city's subscribers
    assert eng.count("kp_2") == eng.count("age_band = '18-24' AND city_id = 'C01'") > 0
    assert eng.count("kp_2 AND city_id = 'C02'") == 0
    assert "kp_3" not in eng.index.columns
    assert "no_such_column" in eng.index.manifest["published_skipped"]["kp_3"]
    # the reverse lookup carries the knowledge labels
    from pyroaring import BitMap

    member = int(BitMap(eng.members("kp_1"))[0])
    number = str(int(eng.index.dictionary.msisdn_by_id[member]))
    assert eng.lookup(number)["kp_1"] is True


def test_verified_points_round_trip(wh: Path) -> None:
    tag = published_tag(
        7,
        {
            "title": "常拨交通台",
            "condition": "tag_0002",
            "knowledge": "有车一族",
            "products": [{"product_id": "P_CAR", "reason": "车主", "strategy": "cross_sell"}],
            "region_id": "C01K01",
        },
        owner="bob",
        version=3,
        reads=["tag_0002"],
        region_level="county",
    )
    write_published(wh, [tag])
    assert read_published(wh) == [tag]
    [(pid, cond, products, reason)] = verified_points(wh)
    assert pid == "kp_7"
    assert cond == "(tag_0002) AND county_id = 'C01K01'"
    assert products == ("P_CAR",)
    assert reason.startswith("有车一族") and "P_CAR: 车主" in reason
    # the matching library's adapter reads .condition and .service / .product_id
    vp = verified_points(wh)[0]
    assert vp.service == vp.product_id == "P_CAR" and vp.condition == cond


def test_no_published_file_means_no_points(tmp_path: Path) -> None:
    assert verified_points(tmp_path) == []


def test_scoped_condition_refuses_odd_levels() -> None:
    assert scoped_condition("x", None, None) == "x"
    assert scoped_condition("x", "province", "P") == "x"
    assert scoped_condition("x", "city", "C'1") == "(x) AND city_id = 'C''1'"
    with pytest.raises(ValueError):
        scoped_condition("x", "planet", "E")
    with pytest.raises(ValueError):
        PublishedTag("kp_x", "", "", "x", "", "", "")


_ATOMS = [
    "tag_0001",
    "tag_0002",
    "tag_0004",
    "arpu >= 60",
    "arpu < 30",
    "brand = 'gotone'",
    "age_band IN ('18-24', '25-34')",
]


def _condition() -> Any:
    from hypothesis import strategies as st

    atom = st.sampled_from(_ATOMS)
    return st.recursive(
        atom,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]} AND {t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
            inner.map(lambda c: f"NOT {c}"),
        ),
        max_leaves=4,
    )


def test_published_tags_count_as_a_duckdb_scan(wh: Path) -> None:
    """Law: for any conditions, each knowledge tag the index evaluates holds exactly the rows a
    DuckDB scan of the wide table selects (NULL as SQL has it: unknown is not selected)."""
    import duckdb
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.query import AudienceEngine
    from tagcloud.tags.condition import names_from_kinds, parse_condition

    wide = wh / "wide" / "current" / "wide.parquet"
    meta = json.loads((wh / "wide" / "current" / "meta.json").read_text(encoding="utf-8"))

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(_condition(), min_size=1, max_size=4))
    def check(conditions: list[str]) -> None:
        write_published(wh, [_tag(n, c) for n, c in enumerate(conditions, 1)])
        build_index(wh, quiet=True)
        eng = AudienceEngine.open(wh)
        names = names_from_kinds({c["name"]: c["kind"] for c in meta["columns"]})
        con = duckdb.connect()
        for n, c in enumerate(conditions, 1):
            sql = parse_condition(c, names).to_sql()
            (expected,) = con.execute(f"SELECT count(*) FROM '{wide}' WHERE {sql}").fetchone()  # type: ignore[misc]
            assert eng.count(f"kp_{n}") == expected, c

    check()
