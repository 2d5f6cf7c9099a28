"""The condition language: accepted forms, refusals that point at the token, and a reference evaluation."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagcloud.tags.condition import (
    Condition,
    ConditionError,
    NameInfo,
    NameKind,
    parse_condition,
)

NAMES = {
    "arpu_3m": NameInfo("arpu_3m", NameKind.NUMBER),
    "dou_mb": NameInfo("dou_mb", NameKind.NUMBER),
    "is_student": NameInfo("is_student", NameKind.FLAG),
    "is_car_owner": NameInfo("is_car_owner", NameKind.FLAG),
    "brand": NameInfo("brand", NameKind.ENUM, ("gotone", "mzone", "easyown")),
    "handset_model": NameInfo("handset_model", NameKind.TEXT),
    "join_date": NameInfo("join_date", NameKind.DATE),
    "spring_push": NameInfo("spring_push", NameKind.GROUP),
}


def parse(text: str, **kw: bool) -> Condition:
    return parse_condition(text, NAMES, **kw)


# -- accepted forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("arpu_3m >= 80 AND is_student", '"arpu_3m" >= 80 AND "is_student"'),
        ("80 <= ARPU_3M", '"arpu_3m" >= 80'),  # name moved to the left, identifiers lower-cased
        ("5 > dou_mb", '"dou_mb" < 5'),
        (
            "brand IN ('gotone', 'mzone') AND NOT is_student",
            "\"brand\" IN ('gotone', 'mzone') AND NOT \"is_student\"",
        ),
        ("brand NOT IN ('mzone')", "NOT \"brand\" IN ('mzone')"),
        ("handset_model LIKE 'iPhone%'", "\"handset_model\" LIKE 'iPhone%'"),
        ("join_date >= '2020-01-01'", "\"join_date\" >= '2020-01-01'"),
        ("arpu_3m BETWEEN 10 AND 20.5", '"arpu_3m" BETWEEN 10 AND 20.5'),
        ("arpu_3m IS NULL OR dou_mb IS NOT NULL", '"arpu_3m" IS NULL OR NOT "dou_mb" IS NULL'),
        ("is_student = TRUE AND is_car_owner <> FALSE", '"is_student" = TRUE AND "is_car_owner" <> FALSE'),
        (
            "(arpu_3m > -5.5 OR is_student) AND dou_mb > 0",
            '("arpu_3m" > -5.5 OR "is_student") AND "dou_mb" > 0',
        ),
        ("TRUE", "TRUE"),
    ],
)
def test_accepted_forms_and_their_sql(text: str, sql: str) -> None:
    assert parse(text).to_sql() == sql


def test_names_and_groups_are_collected() -> None:
    c = parse("in_group('Spring_Push') AND (arpu_3m > 1 OR brand = 'mzone')")
    assert c.names == {"arpu_3m", "brand"}
    assert c.groups == {"spring_push"}
    with pytest.raises(ConditionError, match="audience engine"):
        c.to_sql()
    from sqlglot import exp

    sql = c.to_sql(group_sql=lambda g: exp.column(f"grp_{g}"))
    assert sql.startswith('"grp_spring_push" AND')


def test_qualify_and_spark_dialect() -> None:
    c = parse("arpu_3m > 1 AND is_student")
    assert c.to_sql(qualify="w") == '"w"."arpu_3m" > 1 AND "w"."is_student"'
    assert c.to_sql(dialect="spark") == "`arpu_3m` > 1 AND `is_student`"


def test_expression_mode_allows_arithmetic_and_listed_functions() -> None:
    c = parse("COALESCE(arpu_3m, 0) * 2 > dou_mb / 1024 + ABS(-3)", allow_expressions=True)
    assert c.names == {"arpu_3m", "dou_mb"}
    assert "COALESCE" in c.to_sql()
    with pytest.raises(ConditionError, match="arithmetic"):
        parse("arpu_3m * 2 > 1")
    with pytest.raises(ConditionError, match="UPPER"):
        parse("upper(handset_model) = 'X'", allow_expressions=True)
    with pytest.raises(ConditionError, match="arithmetic needs numbers"):
        parse("brand + 1 > 2", allow_expressions=True)


# -- refusals point at the offending token -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "token"),
    [
        ("arpu > 1", "unknown name 'arpu'", "arpu"),
        ("arpu_3m > 'high'", "is a text value but arpu_3m is a number", "'high'"),
        ("brand = 'gold'", "not a value of brand", "'gold'"),
        ("brand IN ('mzone', 'gotonee')", "not a value of brand", "'gotonee'"),
        ("brand > 'mzone'", "no order", "'mzone'"),
        ("dou_mb", "not a flag", "dou_mb"),
        ("is_student > 1", "flag", "1"),
        ("arpu_3m = NULL", "IS NULL", "NULL"),
        ("handset_model LIKE 5", "quoted pattern", "5"),
        ("dou_mb LIKE '1%'", "LIKE works on text", "dou_mb"),
        ("join_date > '2020-13-01'", "not a date", "'2020-13-01'"),
        ("in_group('spring')", "unknown group 'spring'", "'spring'"),
        ("arpu_3m > dou_mb", "comparing two names", "dou_mb"),
        ("w.arpu_3m > 1", "without a table", "w.arpu_3m"),
        ("arpu_3m > 1; DROP TABLE subscribers", "';' is not allowed", ";"),
        ("arpu_3m > 1 -- AND is_student", "comments", "--"),
        ("arpu_3m /* ; */ > 1", "comments", "/*"),
        ("arpu_3m IN (SELECT arpu_3m FROM wide)", "subqueries", "SELECT"),
        ("EXISTS (SELECT 1)", "subqueries", "EXISTS"),
        ("read_parquet('/etc/passwd') IS NULL", "READ_PARQUET is not allowed", "read_parquet('/etc/passwd')"),
        ("arpu_3m::VARCHAR = '1'", "CAST", "arpu_3m::"),
        ("arpu_3m >", "syntax error", None),
        ("", "empty", None),
    ],
)
def test_refusals_name_the_problem_and_point_at_it(text: str, message: str, token: str | None) -> None:
    with pytest.raises(ConditionError) as info:
        parse(text)
    e = info.value
    assert message in e.message
    if token is not None:
        assert text[e.start : e.end].startswith(token) or token.startswith(text[e.start : e.end])
        # the caret line sits under the token
        lines = str(e).splitlines()
        assert lines[-1].index("^") - 2 == e.start


def test_suggestion_is_the_closest_name() -> None:
    with pytest.raises(ConditionError) as info:
        parse("arpu_3n > 1")
    assert info.value.suggestion == "arpu_3m"
    assert info.value.name == "arpu_3n"
    assert "did you mean 'arpu_3m'" in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "brand = 'x'' OR 1=1 OR brand = ''y'",  # quote-escaping is a literal, and its value is checked
        "1 = 1",
        "arpu_3m > 1 OR 1 = 1",
        "is_student OR pg_sleep(10) IS NULL",
        "is_student UNION SELECT 1",
        "(SELECT 1) = 1",
        "arpu_3m > 0 \n; ATTACH 'x.db'",
        "handset_model = $1",
        "arpu_3m > ?",
        'is_student OR "x" IS NULL',
        "arpu_3m IN (1, (SELECT 2))",
        "COPY (SELECT 1) TO '/tmp/x'",
        "handset_model ILIKE 'a%' ESCAPE '!'",
        "CASE WHEN is_student THEN TRUE END",
        "getvariable('x') IS NULL",
    ],
)
def test_injection_attempts_are_refused(text: str) -> None:
    with pytest.raises(ConditionError):
        parse(text)


@pytest.mark.parametrize(
    "text", ["handset_model = 'a'' OR ''1''=''1'", "handset_model = 'a''; DROP TABLE w; --'"]
)
def test_string_literal_with_quotes_is_kept_as_one_literal(text: str) -> None:
    c = parse(text)
    assert c.to_sql() == '"handset_model" = ' + text.split(" = ", 1)[1]
    con = duckdb.connect()
    con.execute("CREATE TABLE w AS SELECT * FROM (VALUES ('a'), ('b')) v(handset_model)")
    assert con.execute(f"SELECT count(*) FROM w WHERE {c.to_sql()}").fetchone() == (0,)


# -- reference evaluation: the compiled SQL means what the text means ---------------------------------

ROWS = [
    # arpu_3m, dou_mb, is_student, is_car_owner, brand, handset_model
    (None, 0.0, True, None, "gotone", "iPhone 15"),
    (10.0, 512.5, False, True, "mzone", "Mate 60"),
    (80.0, None, None, False, None, None),
    (120.5, 4096.0, True, True, "easyown", "iPad"),
    (-1.0, 10.0, False, False, "mzone", "Redmi"),
    (79.99, 2048.0, True, False, "gotone", "iPhone 12"),
    (0.0, 1.0, None, True, "easyown", "mate"),
]
COLS = ["arpu_3m", "dou_mb", "is_student", "is_car_owner", "brand", "handset_model"]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute(
        "CREATE TABLE w (id INTEGER, arpu_3m DOUBLE, dou_mb DOUBLE, is_student BOOLEAN, "
        "is_car_owner BOOLEAN, brand VARCHAR, handset_model VARCHAR)"
    )
    c.executemany("INSERT INTO w VALUES (?, ?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(ROWS)])
    return c


def _cmp(op: str, a: object, b: object) -> bool | None:
    if a is None or b is None:
        return None
    return {
        "=": a == b,
        "<>": a != b,
        "<": a < b,  # type: ignore[operator]
        "<=": a <= b,  # type: ignore[operator]
        ">": a > b,  # type: ignore[operator]
        ">=": a >= b,  # type: ignore[operator]
    }[op]


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _not(a: bool | None) -> bool | None:
    return None if a is None else not a


OPS = ["=", "<>", "<", "<=", ">", ">="]
numbers = st.sampled_from([-1, 0, 10, 79.99, 80, 512.5, 2048, 5000])


@st.composite
def atoms(draw: st.DrawFn):  # -> (text, fn(row) -> bool | None)
    form = draw(st.integers(0, 8))
    if form == 0:
        name = draw(st.sampled_from(["arpu_3m", "dou_mb"]))
        op, v = draw(st.sampled_from(OPS)), draw(numbers)
        i = COLS.index(name)
        if draw(st.booleans()):  # literal on the left
            return f"{v} {op} {name}", lambda r: _cmp(op, v, r[i])
        return f"{name} {op} {v}", lambda r: _cmp(op, r[i], v)
    if form == 1:
        lo, hi = sorted([draw(numbers), draw(numbers)])
        return f"arpu_3m BETWEEN {lo} AND {hi}", lambda r: _and(_cmp(">=", r[0], lo), _cmp("<=", r[0], hi))
    if form == 2:
        vals = draw(st.lists(st.sampled_from(["gotone", "mzone", "easyown"]), min_size=1, max_size=3))
        neg = draw(st.booleans())
        lst = ", ".join(f"'{v}'" for v in vals)

        def f(r: tuple, vals: list[str] = vals, neg: bool = neg) -> bool | None:
            if r[4] is None:
                return None
            return (r[4] in vals) != neg

        return f"brand {'NOT IN' if neg else 'IN'} ({lst})", f
    if form == 3:
        name = draw(st.sampled_from(COLS))
        i, neg = COLS.index(name), draw(st.booleans())
        return f"{name} IS {'NOT ' if neg else ''}NULL", lambda r: (r[i] is None) != neg
    if form == 4:
        name = draw(st.sampled_from(["is_student", "is_car_owner"]))
        i = COLS.index(name)
        return name, lambda r: r[i]
    if form == 5:
        name = draw(st.sampled_from(["is_student", "is_car_owner"]))
        i, b = COLS.index(name), draw(st.booleans())
        return f"{name} = {str(b).upper()}", lambda r: _cmp("=", r[i], b)
    if form == 6:
        prefix = draw(st.sampled_from(["iPhone", "Mate", "ma", "i"]))
        return f"handset_model LIKE '{prefix}%'", lambda r: None if r[5] is None else r[5].startswith(prefix)
    if form == 7:
        v = draw(st.sampled_from(["gotone", "mzone"]))
        op = draw(st.sampled_from(["=", "<>", "!="]))
        return f"brand {op} '{v}'", lambda r: _cmp("=" if op == "=" else "<>", r[4], v)
    return "TRUE", lambda r: True


def conditions(depth: int = 3):  # -> strategy of (text, fn)
    if depth == 0:
        return atoms()

    @st.composite
    def combined(draw: st.DrawFn):
        kind = draw(st.sampled_from(["atom", "and", "or", "not"]))
        if kind == "atom":
            return draw(atoms())
        if kind == "not":
            t, f = draw(conditions(depth - 1))
            return f"NOT ({t})", lambda r: _not(f(r))
        (ta, fa), (tb, fb) = draw(conditions(depth - 1)), draw(conditions(depth - 1))
        if kind == "and":
            return f"({ta}) AND ({tb})", lambda r: _and(fa(r), fb(r))
        return f"({ta}) OR ({tb})", lambda r: _or(fa(r), fb(r))

    return combined()


@settings(max_examples=150, deadline=None)
@given(conditions())
def test_compiled_sql_matches_reference_evaluation(con: duckdb.DuckDBPyConnection, case: tuple) -> None:
    text, fn = case
    c = parse(text)
    got = {r[0] for r in con.execute(f"SELECT id FROM w WHERE {c.to_sql(qualify='w')}").fetchall()}
    expected = {i for i, row in enumerate(ROWS) if fn(row) is True}
    assert got == expected, (text, c.to_sql())
    # and the same as DuckDB reading the (trusted, generated) text itself
    raw = {r[0] for r in con.execute(f"SELECT id FROM w WHERE {text}").fetchall()}
    assert got == raw


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_is_refused_cleanly_or_compiles(text: str) -> None:
    try:
        c = parse(text)
    except ConditionError as e:
        assert 0 <= e.start < max(1, len(text)) + 1
        str(e)
        return
    # Anything accepted compiles, and compiles only to names of the catalogue.
    assert c.names <= set(NAMES)
    duckdb.connect().execute(
        "CREATE TABLE w (arpu_3m DOUBLE, dou_mb DOUBLE, is_student BOOLEAN, is_car_owner BOOLEAN, "
        "brand VARCHAR, handset_model VARCHAR, join_date DATE)"
    ).execute(f"SELECT count(*) FROM w WHERE {c.to_sql()}")
