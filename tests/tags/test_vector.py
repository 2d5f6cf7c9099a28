"""The vectorised predicate selects exactly the rows DuckDB's WHERE selects, NULLs included."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagcloud.realtime.events import event_names
from tagcloud.tags.condition import ConditionError, NameInfo, NameKind, parse_condition
from tagcloud.tags.vector import compile_predicate

N = 300
NAMES = {
    "arpu": NameInfo("arpu", NameKind.NUMBER),
    "is_student": NameInfo("is_student", NameKind.FLAG),
    "brand": NameInfo("brand", NameKind.ENUM, ("gotone", "mzone", "easyown")),
    "city_id": NameInfo("city_id", NameKind.TEXT),
    "opened": NameInfo("opened", NameKind.DATE),
}
EVENTS = event_names("roam_in")


def table(seed: int) -> tuple[dict, pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    null = {
        k: rng.random(N) < 0.15
        for k in ("arpu", "is_student", "brand", "city_id", "opened", "ecity", "eprov")
    }
    arpu = rng.integers(0, 200, N).astype(float)
    student = rng.random(N) < 0.4
    brand = rng.choice(["gotone", "mzone", "easyown"], N)
    city = rng.choice(["4401", "4403", "4419"], N)
    opened = np.datetime64("2020-01-01") + rng.integers(0, 2000, N).astype("timedelta64[D]")
    ecity = rng.choice(["4401", "4403", "4419", "1101"], N)
    eprov = rng.choice(["guangdong", "beijing"], N)
    other = rng.random(N) < 0.5
    hour = rng.integers(0, 24, N).astype(float)
    cols = {
        "arpu": (arpu, null["arpu"]),
        "is_student": (student, null["is_student"]),
        "brand": (brand, null["brand"]),
        "city_id": (city, null["city_id"]),
        "opened": (opened, null["opened"]),
        "event.city": (ecity, null["ecity"]),
        "event.province": (eprov, null["eprov"]),
        "event.other_province": (other, None),
        "event.hour": (hour, None),
    }

    def arr(v: np.ndarray, m: np.ndarray | None) -> pa.Array:
        return pa.array(v.tolist(), mask=m)

    subs = pa.table({k: arr(*cols[k]) for k in ("arpu", "is_student", "brand", "city_id", "opened")})
    ev = pa.table(
        {
            "city": arr(*cols["event.city"]),
            "province": arr(*cols["event.province"]),
            "other_province": arr(*cols["event.other_province"]),
            "hour": arr(*cols["event.hour"]),
        }
    )
    return cols, subs, ev


ATOMS = [
    "arpu >= 100",
    "arpu < 50",
    "arpu BETWEEN 20 AND 80",
    "arpu IN (10, 20, 30, 199)",
    "is_student",
    "is_student = FALSE",
    "is_student IS TRUE",
    "brand = 'mzone'",
    "brand IN ('gotone', 'easyown')",
    "brand NOT IN ('gotone')",
    "city_id LIKE '44%'",
    "city_id LIKE '%03'",
    "city_id LIKE '4_19'",
    "opened >= '2022-06-01'",
    "arpu IS NULL",
    "brand IS NOT NULL",
    "event.city <> city_id",
    "event.city = city_id",
    "event.province = 'guangdong'",
    "event.other_province",
    "event.hour BETWEEN 8 AND 20",
    "TRUE",
]


@st.composite
def conditions(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(ATOMS))
    op = draw(st.sampled_from(["AND", "OR", "NOT"]))
    if op == "NOT":
        return f"NOT ({draw(conditions(depth - 1))})"
    return f"({draw(conditions(depth - 1))}) {op} ({draw(conditions(depth - 1))})"


_DATA = {s: table(s) for s in (1, 2)}


@settings(max_examples=60, deadline=None)
@given(text=conditions(), seed=st.sampled_from([1, 2]))
def test_predicate_matches_duckdb(text: str, seed: int) -> None:
    cols, subs, ev = _DATA[seed]
    cond = parse_condition(text, NAMES, event_names=EVENTS)
    got = compile_predicate(cond)(cols, N)
    con = duckdb.connect()
    con.register("s_t", subs.append_column("rid", pa.array(range(N))))
    con.register("e_t", ev.append_column("rid", pa.array(range(N))))
    sql = (
        "SELECT s.rid FROM s_t AS s JOIN e_t AS event ON event.rid = s.rid "
        f"WHERE {cond.to_sql(qualify='s')} ORDER BY 1"
    )
    want = np.zeros(N, bool)
    want[[r[0] for r in con.execute(sql).fetchall()]] = True
    assert np.array_equal(got, want), text


def test_missing_column_and_groups_are_refused() -> None:
    pred = compile_predicate(parse_condition("arpu > 1", NAMES))
    with pytest.raises(KeyError, match="lacks the column"):
        pred({}, N)
    groups = {**NAMES, "g": NameInfo("g", NameKind.GROUP)}
    with pytest.raises(ConditionError, match="not available in an event rule"):
        compile_predicate(parse_condition("in_group('g')", groups))
