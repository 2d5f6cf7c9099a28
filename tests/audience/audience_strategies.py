"""Hypothesis strategies shared by the audience property tests."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

GROUPS = ("grp_a", "grp_b")


def conditions(meta: dict, groups: tuple[str, ...] = GROUPS) -> st.SearchStrategy[str]:
    """Random nested conditions over the table's flags, enums, numbers, dates and saved groups."""
    cols = meta["columns"]
    dates = [c["name"] for c in cols if c["kind"] == "date"]
    flags = [c["name"] for c in cols if c["kind"] == "flag"]
    enums = [c for c in cols if c["kind"] == "enum"] + [
        {"name": "county_id", "values": [f"C0{c}K0{k}" for c in range(1, 4) for k in range(1, 4)]}
    ]
    numbers = [c["name"] for c in cols if c["kind"] == "number"]
    number_lit = st.one_of(
        st.integers(-5, 3000).map(str),
        st.decimals(0, 500, places=2, allow_nan=False).map(str),
    )

    def enum_leaf(c: dict) -> st.SearchStrategy[str]:
        vals = st.sampled_from(c["values"]).map(lambda v: f"'{v}'")
        some = st.lists(vals, min_size=1, max_size=4, unique=True).map(", ".join)
        return st.one_of(
            vals.map(lambda v: f"{c['name']} = {v}"),
            vals.map(lambda v: f"{c['name']} <> {v}"),
            some.map(lambda v: f"{c['name']} IN ({v})"),
            some.map(lambda v: f"{c['name']} NOT IN ({v})"),
            st.just(f"{c['name']} IS NULL"),
        )

    num = st.sampled_from(numbers)
    leaves = st.one_of(
        st.sampled_from(flags),
        st.tuples(st.sampled_from(flags), st.sampled_from(["TRUE", "FALSE"])).map(
            lambda t: f"{t[0]} = {t[1]}"
        ),
        st.tuples(st.sampled_from(flags), st.sampled_from(["IS NULL", "IS NOT NULL"])).map(" ".join),
        st.sampled_from(enums).flatmap(enum_leaf),
        st.tuples(num, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), number_lit).map(" ".join),
        st.tuples(num, number_lit, number_lit).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
        st.tuples(num, st.lists(st.integers(0, 400), min_size=1, max_size=3)).map(
            lambda t: f"{t[0]} IN ({', '.join(map(str, t[1]))})"
        ),
        num.map(lambda n: f"{n} IS NOT NULL"),
    )
    if groups:
        leaves = leaves | st.sampled_from(groups).map(lambda g: f"in_group('{g}')")
    if dates:
        day = st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31)).map(lambda d: f"'{d}'")
        leaves = leaves | st.tuples(st.sampled_from(dates), st.sampled_from(["=", "<", ">="]), day).map(
            " ".join
        )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]} AND {t[1]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} AND {t[1]} OR {t[2]}"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
            inner.map(lambda t: f"NOT ({t})"),
            inner.map(lambda t: f"NOT {t}" if " " not in t else f"NOT ({t})"),
        ),
        max_leaves=7,
    )
