"""The two-stage rollup of a source computes exactly what the one-stage aggregate computes."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagcloud.tags.rollup import NotSplittable, plan_rollup, stage1_sql, worth_it

# Every shape the catalogue uses: conditional sums and counts, ratios, averages of flags and of
# values with NULLs, count(*), count(x), distinct counts, min / max / bool_or, constant scaling.
EXPRS = [
    "count(*)",
    "sum(m)",
    "sum(CASE WHEN k = 'a' THEN m ELSE 0 END)",
    "sum(CASE WHEN k = 'a' THEN 1 ELSE 0 END)",
    "sum(CASE WHEN k = 'b' AND flag THEN v ELSE 0 END) / NULLIF(sum(v), 0)",
    "avg(CASE WHEN k = 'c' THEN 1.0 ELSE 0.0 END)",
    "avg(m)",
    "avg(CASE WHEN flag THEN v END)",
    "count(m)",
    "count(CASE WHEN k = 'a' THEN m END)",
    "sum(v / 60.0)",
    "sum(2 * m)",
    "count(DISTINCT k)",
    "count(DISTINCT CASE WHEN flag THEN k END)",
    "max(CASE WHEN flag THEN k END)",
    "min(k)",
    "bool_or(k = 'd')",
    "sum(m + v)",
]

rows = st.lists(
    st.tuples(
        st.sampled_from(["1380001", "1380002", "1380003", None]),
        st.sampled_from(["a", "b", "c", "d", None]),
        st.booleans(),
        st.one_of(st.none(), st.integers(-5, 50)),
        st.one_of(st.none(), st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 3))),
    ),
    max_size=60,
)


def _source(con: duckdb.DuckDBPyConnection, data: list[tuple]) -> str:
    con.execute("CREATE OR REPLACE TABLE ev (msisdn VARCHAR, k VARCHAR, flag BOOLEAN, m BIGINT, v DOUBLE)")
    if data:
        con.executemany("INSERT INTO ev VALUES (?, ?, ?, ?, ?)", data)
    return "SELECT * FROM ev"


def _one_and_two(con: duckdb.DuckDBPyConnection, src: str, exprs: list[str]) -> tuple[list, list]:
    r = plan_rollup(exprs)
    one_cols = ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))
    two_cols = ", ".join(f"{e} AS c{i}" for i, e in enumerate(r.exprs))
    one = con.execute(
        f"SELECT msisdn, {one_cols} FROM ({src}) WHERE msisdn IS NOT NULL GROUP BY msisdn ORDER BY msisdn"
    ).fetchall()
    two = con.execute(
        f"SELECT msisdn, {two_cols} FROM ({stage1_sql(r, src)}) GROUP BY msisdn ORDER BY msisdn"
    ).fetchall()
    return one, two


def _same(one: list, two: list) -> None:
    assert len(one) == len(two)
    for a, b in zip(one, two, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
                assert x == pytest.approx(y, rel=1e-9, abs=1e-9), (a, b)
            else:
                assert x == y, (a, b)


@settings(max_examples=150, deadline=None)
@given(rows)
def test_two_stages_equal_one(data: list[tuple]) -> None:
    con = duckdb.connect()
    one, two = _one_and_two(con, _source(con, data), EXPRS)
    _same(one, two)


def test_tested_columns_become_keys_and_added_up_ones_leaves() -> None:
    r = plan_rollup(EXPRS)
    assert r.keys == ["flag", "k"]
    assert set(r.leaves) == {"m", "v", "m + v"}
    assert r.aggregates == len(EXPRS) + 1  # the ratio has two
    # only the leaves an average or a count needs are counted in stage 1
    assert {r.leaves[i] for i in r.counted} == {"m", "v"}
    assert worth_it(plan_rollup(EXPRS * 2))  # 38 aggregates over two tested columns
    assert not worth_it(r)  # 19: not enough to pay for the extra pass


def test_aggregates_that_do_not_split_are_refused() -> None:
    for e in (
        "median(m)",
        "string_agg(k, ',')",
        "stddev_samp(v)",
        "sum(DISTINCT m)",
        "avg(DISTINCT v)",
        "sum(m) FILTER (WHERE flag)",
    ):
        with pytest.raises(NotSplittable):
            plan_rollup(["sum(m)", e])
    with pytest.raises(NotSplittable, match="outside an aggregate"):
        plan_rollup(["m + sum(v)"])


def test_not_worth_it_with_many_keys_or_few_aggregates() -> None:
    assert not worth_it(plan_rollup(["sum(m)", "count(*)"]))
    many_keys = [f"sum(CASE WHEN c{i} = 1 THEN m ELSE 0 END)" for i in range(30)]
    assert not worth_it(plan_rollup(many_keys))


@pytest.mark.slow
def test_every_rolled_up_catalogue_source_matches_its_one_stage_query(built, catalogue) -> None:
    """Over the simulated province: each source the build rolls up gives the same attribute values
    as the plain one-stage aggregate (the build's own SQL, both forms)."""
    from tagcloud.data.model import TABLES
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.tags import build as b
    from tagcloud.tags.catalogue import compile_catalogue, model_schema
    from tagcloud.tags.engines.duckdb import DuckDBEngine

    root, _ = built
    wh, window = Warehouse(root), b.month_window("2026-10")
    plans, schema = compile_catalogue(catalogue), model_schema()
    eng = DuckDBEngine()
    for table in TABLES:
        files, base, where = b._relation_files(wh, table, window)
        eng.register_files(
            "_snap_subscribers" if table == "subscribers" else table, files, base, schema[table], where
        )
    for relation, table in b.HISTORY_RELATIONS.items():  # e.g. every order ever, for products held
        files, base, where = b._relation_files(wh, table, window, history=True)
        eng.register_files(relation, files, base, schema[table], where)
    eng.register_query("subscribers", b.subscribers_sql(window))
    eng.register_arrow("build_period", b._period_table(window))
    eng.register_arrow("ref_lists", b._lists_table(catalogue))
    b._register_translated(eng, wh, window, {})  # the days the build translated, reused
    by_source: dict[str, list] = {}
    for a in catalogue.attributes.values():
        if not a.derived:
            by_source.setdefault(a.source, []).append(a)
    rolled = []
    for sid, attrs in sorted(by_source.items()):
        two, one = b.source_sql(plans[sid], attrs), b.source_sql(plans[sid], attrs, rollup=False)
        if two == one:
            continue
        rolled.append(sid)
        cols = [a.id for a in attrs]
        got = {r[0]: r[1:] for r in eng.con.execute(f"SELECT * FROM ({two})").fetchall()}
        want = {r[0]: r[1:] for r in eng.con.execute(f"SELECT * FROM ({one})").fetchall()}
        assert got.keys() == want.keys(), sid
        for k, w in want.items():
            for c, x, y in zip(cols, w, got[k], strict=True):
                assert x == pytest.approx(y, rel=1e-9, abs=1e-9), (sid, k, c)
    assert {"content_daily_app", "content_daily_category"} <= set(rolled)
