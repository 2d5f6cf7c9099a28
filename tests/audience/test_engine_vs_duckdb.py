"""The bitmap engine and a DuckDB scan of the same wide table must agree (issue 4, correctness)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagcloud.audience.groups import save_group
from tagcloud.audience.query import AudienceEngine, parse
from tests.audience.audience_strategies import conditions


def _meta(warehouse: Path) -> dict:
    return json.loads((warehouse / "wide" / "current" / "meta.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def engine(warehouse: Path) -> AudienceEngine:
    eng = AudienceEngine.open(warehouse, can_unmask=True)
    save_group(eng, "grp_a", "tag_0003 OR arpu > 90", overwrite=True)
    save_group(eng, "grp_b", "brand = 'mzone' AND NOT tag_0001", overwrite=True)
    return eng


def reference_sql(engine: AudienceEngine, warehouse: Path, condition: str) -> str:
    import sqlglot

    def group_sql(name: str):
        path = warehouse / "groups" / name / "members.parquet"
        return sqlglot.parse_one(f"msisdn IN (SELECT msisdn FROM read_parquet('{path}'))", read="duckdb")

    return parse(condition, engine.names()).to_sql("duckdb", group_sql=group_sql)


def engine_numbers(engine: AudienceEngine, condition: str) -> set[str]:
    ids = np.frombuffer(engine.members(condition).to_array(), dtype=np.uint32)
    return {str(int(x)) for x in engine.index.dictionary.msisdn_by_id[ids]}


def test_every_row_of_the_wide_table_is_indexed(engine: AudienceEngine, duck) -> None:
    assert engine.index.subscribers == duck.execute("SELECT count(*) FROM wide").fetchone()[0]
    assert len(engine.index.shards) == 3
    assert engine.count("prod_0000 OR NOT prod_0000 OR prod_0000 IS NULL") == engine.index.subscribers


@pytest.mark.slow
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_counts_and_members_match_a_duckdb_scan(engine: AudienceEngine, warehouse: Path, duck, data) -> None:
    condition = data.draw(conditions(_meta(warehouse)), label="condition")
    where = reference_sql(engine, warehouse, condition)
    want = {r[0] for r in duck.execute(f"SELECT msisdn FROM wide WHERE {where}").fetchall()}
    assert engine.count(condition) == len(want)
    assert engine_numbers(engine, condition) == want


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_profile_matches_duckdb(engine: AudienceEngine, warehouse: Path, duck, data) -> None:
    meta = _meta(warehouse)
    condition = data.draw(conditions(meta), label="condition")
    names = [c["name"] for c in meta["columns"]]
    columns = data.draw(
        st.lists(st.sampled_from(names), min_size=1, max_size=8, unique=True), label="columns"
    )
    where = reference_sql(engine, warehouse, condition)
    prof = engine.profile(condition, columns)
    total = duck.execute(f"SELECT count(*) FROM wide WHERE {where}").fetchone()[0]
    kinds = {c["name"]: c["kind"] for c in meta["columns"]}
    for name in columns:
        rows = prof.filter(prof["column"] == name)
        if kinds[name] == "flag":
            want = duck.execute(f"SELECT count(*) FILTER ({name}) FROM wide WHERE {where}").fetchone()[0]
            assert rows["members"].to_list() == [want]
        elif kinds[name] == "enum":
            got = {r["value"]: r["members"] for r in rows.iter_rows(named=True) if r["members"]}
            want = dict(
                duck.execute(f"SELECT {name}, count(*) FROM wide WHERE {where} GROUP BY 1").fetchall()
            )
            assert got == want
        else:
            n, s = duck.execute(f"SELECT count({name}), sum({name}) FROM wide WHERE {where}").fetchone()
            r = rows.row(0, named=True)
            assert r["members"] == n
            assert r["sum"] == pytest.approx(s or 0.0, rel=1e-9, abs=1e-6)
    products = [n for n in names if n.startswith("prod_") and n in columns]
    if products:
        none = duck.execute(
            f"SELECT count(*) FROM wide WHERE ({where}) AND NOT ({' OR '.join(f'coalesce({p}, false)' for p in products)})"
        ).fetchone()[0]
        assert prof.filter(prof["column"] == "(no product)")["members"].to_list() == [none]
    assert all(0 <= s <= 1 for s in prof["share"].to_list()) or total == 0


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_split_tiers_match_duckdb_and_cover_the_audience(
    engine: AudienceEngine, warehouse: Path, duck, data
) -> None:
    meta = _meta(warehouse)
    condition = data.draw(conditions(meta), label="condition")
    by = data.draw(st.sampled_from(["arpu", "mou", "dou_mb", "brand", "enum_001", "num_002"]), label="by")
    kind = next(c["kind"] for c in meta["columns"] if c["name"] == by)
    if kind == "number" and data.draw(st.booleans(), label="quantiles"):
        edges, tiers = None, data.draw(st.integers(2, 5), label="tiers")
    elif kind == "number":
        edges, tiers = (
            sorted(data.draw(st.lists(st.integers(0, 800), min_size=1, max_size=4, unique=True))),
            None,
        )
    else:
        edges, tiers = None, None
    try:
        split = engine.split(condition, by, edges, tiers)
    except ValueError as e:  # quantile tiers of an audience without values
        assert "no member has a value" in str(e)
        return
    where = reference_sql(engine, warehouse, condition)
    total = duck.execute(f"SELECT count(*) FROM wide WHERE {where}").fetchone()[0]
    names = engine.names()
    for row in split.iter_rows(named=True):
        tier_sql = parse(row["tier"], names).to_sql("duckdb")
        want = duck.execute(f"SELECT count(*) FROM wide WHERE ({where}) AND ({tier_sql})").fetchone()[0]
        assert row["members"] == want, row["tier"]
    assert split["members"].sum() == total


def test_lookup_returns_the_wide_row(engine: AudienceEngine, duck) -> None:
    rows = duck.execute("SELECT * FROM wide USING SAMPLE 20 ROWS (reservoir, 3)").fetchall()
    cols = [d[0] for d in duck.description]
    for row in rows:
        want = dict(zip(cols, row, strict=True))
        got = engine.lookup(want["msisdn"])
        for k, v in want.items():
            if k == "msisdn":
                assert got[k] == v
            elif isinstance(v, float | int) and not isinstance(v, bool):
                assert got[k] == pytest.approx(v)
            else:
                assert got[k] == v, k


def test_region_scope_is_anded_into_every_answer(warehouse: Path, duck) -> None:
    eng = AudienceEngine.open(warehouse, scope="county_id = 'C01K02'")
    for cond in ("tag_0001 OR NOT tag_0002", "arpu > 60", "brand IN ('gotone', 'mzone')"):
        want = duck.execute(f"SELECT count(*) FROM wide WHERE ({cond}) AND county_id = 'C01K02'").fetchone()[
            0
        ]
        assert eng.count(cond) == len(eng.members(cond)) == want
    prof = eng.profile("arpu > 60", ["county_id"])
    assert prof.filter(prof["members"] > 0)["value"].to_list() == ["C01K02"]
