"""Two-stage aggregation of a source: roll the rows up by subscriber and the columns the attributes
test, then compute the attributes over the rolled-up rows.

Why: an event source is one ``GROUP BY msisdn`` with dozens of aggregates, e.g. 51 sites × 2
(``sum(CASE WHEN site = 'douyin' THEN sessions ELSE 0 END)``). A hash aggregate pays for every input
row times every aggregate, and with a million subscribers the groups do not fit in the CPU cache, so
each of those updates is a cache miss. Most of these aggregates only *test* a few low-cardinality
columns (site, category, area type, RAT) and *add up* a few others (sessions, MB). Grouping first by
``msisdn`` and the tested columns with one ``sum``/``count`` per added-up expression — a narrow
aggregate — shrinks the rows 5-15× for such sources; the wide aggregate then runs on those rows:

    stage 1: SELECT msisdn, site, count(*) AS _n, sum(sessions) AS _s0, count(sessions) AS _c0
             FROM (source) GROUP BY msisdn, site
    stage 2: sum(CASE WHEN site = 'douyin' THEN sessions ELSE 0 END)
               → sum(CASE WHEN site = 'douyin' THEN _s0 ELSE 0 END)
             sum(CASE WHEN site = 'douyin' THEN 1 ELSE 0 END) → sum((CASE … THEN 1 ELSE 0 END) * _n)
             avg(x) → sum(S(x)) / sum(C(x)); count(*) → sum(_n); count(x) → sum(C(x))
             count(DISTINCT x), min, max, bool_or, bool_and over tested columns: unchanged

The rewrite is exact (a column that is tested is a grouping column, so any expression over tested
columns is constant within a rolled-up row), is derived from the parse tree by SQLGlot and needs no
hint in the definitions. A source whose attributes use an aggregate that does not split this way
(a median, a string_agg …) keeps its one-stage query. Whether the rollup pays is decided by
:func:`worth_it`: few grouping columns, many aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Aggregates over tested (grouping) columns only: the same over the rolled-up rows.
_KEEP = ("Max", "Min", "LogicalOr", "LogicalAnd")
MAX_KEYS = 3  # more grouping columns than this and the rolled-up rows are nearly as many as the input
MIN_AGGREGATES = 20  # below this the extra pass costs about what it saves (measured: 10 aggregates over daily rows gain nothing)


class NotSplittable(Exception):
    """An attribute uses an aggregate the two-stage form cannot compute exactly."""


@dataclass
class Rollup:
    keys: list[str]  # grouping columns of stage 1 besides msisdn
    leaves: list[str] = field(default_factory=list)  # SQL of the added-up expressions (_s<i>)
    counted: set[int] = field(default_factory=set)  # leaves also counted (_c<i>: rows not null)
    exprs: list[str] = field(default_factory=list)  # stage-2 SQL of each attribute, in order
    aggregates: int = 0  # aggregate calls in the attributes


def _exp() -> Any:
    from sqlglot import exp

    return exp


def _columns(node: Any) -> set[str]:
    exp = _exp()
    return {c.name for c in node.find_all(exp.Column)}


def _aggregates(tree: Any) -> list[Any]:
    exp = _exp()
    return [
        n for n in tree.find_all(exp.AggFunc) if not any(isinstance(a, exp.AggFunc) for a in _ancestors(n))
    ]


def _ancestors(node: Any) -> list[Any]:
    out, p = [], node.parent
    while p is not None:
        out.append(p)
        p = p.parent
    return out


def _is_case(node: Any) -> bool:
    return isinstance(node, _exp().Case)


def _keys_of(agg: Any, keys: set[str]) -> None:
    """Collect the columns an aggregate tests (must be grouping columns)."""
    exp = _exp()
    name = type(agg).__name__
    arg = agg.this
    if isinstance(agg.parent, (exp.Filter, exp.Window)):
        raise NotSplittable(
            f"{agg.parent.sql(dialect='duckdb')}: FILTER and OVER do not split into two stages"
        )
    if isinstance(arg, exp.Distinct) and not isinstance(agg, exp.Count):
        raise NotSplittable(f"{agg.sql(dialect='duckdb')}: only count(DISTINCT …) splits into two stages")
    if (isinstance(agg, exp.Count) and isinstance(arg, exp.Distinct)) or name in _KEEP:
        keys |= _columns(arg)
    elif isinstance(agg, (exp.Sum, exp.Avg, exp.Count)):
        if isinstance(arg, exp.Star) or arg is None:
            return
        _tested(arg, keys)
    else:
        raise NotSplittable(f"{agg.sql(dialect='duckdb')}: {name.lower()} does not split into two stages")


def _tested(e: Any, keys: set[str]) -> None:
    """Columns in CASE conditions are tested; values are added up."""
    exp = _exp()
    if isinstance(e, exp.Paren):
        _tested(e.this, keys)
    elif isinstance(e, exp.Case):
        for w in e.args.get("ifs") or []:
            keys |= _columns(w.this)
            _tested(w.args["true"], keys)
        if e.args.get("default") is not None:
            _tested(e.args["default"], keys)
    elif isinstance(e, (exp.Mul, exp.Div)) and _constant(e.expression):
        _tested(e.this, keys)
    elif isinstance(e, exp.Mul) and _constant(e.this):
        _tested(e.expression, keys)


def _constant(e: Any) -> bool:
    return not _columns(e) and not list(e.find_all(_exp().AggFunc))


class _Stage2:
    def __init__(self, keys: set[str]) -> None:
        self.keys = keys
        self.leaves: dict[str, int] = {}
        self.counted: set[int] = set()  # leaves whose non-null count stage 2 needs (avg, count)

    def leaf(self, e: Any) -> int:
        sql = e.sql(dialect="duckdb")
        return self.leaves.setdefault(sql, len(self.leaves))

    def keyed(self, e: Any) -> bool:
        return _columns(e) <= self.keys

    def s(self, e: Any) -> Any:
        """Per rolled-up row: the sum of e over the rows it stands for."""
        exp = _exp()
        if self.keyed(e):
            return exp.Mul(this=exp.Paren(this=e.copy()), expression=exp.column("_n"))
        if isinstance(e, exp.Paren):
            return self.s(e.this)
        if isinstance(e, exp.Case):
            return self._case(e, self.s, null_default=True)
        if isinstance(e, (exp.Mul, exp.Div)) and _constant(e.expression):
            return type(e)(this=exp.Paren(this=self.s(e.this)), expression=e.expression.copy())
        if isinstance(e, exp.Mul) and _constant(e.this):
            return exp.Mul(this=e.this.copy(), expression=exp.Paren(this=self.s(e.expression)))
        return exp.column(f"_s{self.leaf(e)}")

    def c(self, e: Any) -> Any:
        """Per rolled-up row: how many of its rows have e not null."""
        exp = _exp()
        if self.keyed(e):
            return exp.Case(
                ifs=[
                    exp.If(
                        this=exp.Not(this=exp.Is(this=e.copy(), expression=exp.Null())), true=exp.column("_n")
                    )
                ],
                default=exp.Literal.number(0),
            )
        if isinstance(e, exp.Paren):
            return self.c(e.this)
        if isinstance(e, exp.Case):
            return self._case(e, self.c, null_default=False)
        if isinstance(e, (exp.Mul, exp.Div)) and _constant(e.expression):
            return self.c(e.this)
        if isinstance(e, exp.Mul) and _constant(e.this):
            return self.c(e.expression)
        i = self.leaf(e)
        self.counted.add(i)
        return exp.column(f"_c{i}")

    def _case(self, e: Any, f: Any, null_default: bool) -> Any:
        exp = _exp()
        ifs = [exp.If(this=w.this.copy(), true=f(w.args["true"])) for w in e.args.get("ifs") or []]
        d = e.args.get("default")
        default = f(d) if d is not None else (exp.Null() if null_default else exp.Literal.number(0))
        return exp.Case(ifs=ifs, default=default)

    def rewrite(self, agg: Any) -> Any:
        exp = _exp()
        arg = agg.this
        if isinstance(agg, exp.Count):
            if isinstance(arg, exp.Distinct):
                return agg.copy()
            if isinstance(arg, exp.Star) or arg is None:
                return exp.Sum(this=exp.column("_n"))
            return exp.Sum(this=self.c(arg))
        if type(agg).__name__ in _KEEP:
            return agg.copy()
        if isinstance(agg, exp.Sum):
            return exp.Sum(this=self.s(arg))
        if isinstance(agg, exp.Avg):
            num = exp.Cast(this=exp.Sum(this=self.s(arg)), to=exp.DataType.build("DOUBLE"))
            den = exp.Nullif(this=exp.Sum(this=self.c(arg)), expression=exp.Literal.number(0))
            return exp.Paren(this=exp.Div(this=num, expression=den))
        raise NotSplittable(agg.sql(dialect="duckdb"))


def plan_rollup(exprs: list[str]) -> Rollup:
    """The two-stage form of these aggregate expressions (one per attribute of a source).

    Raises NotSplittable when an expression uses an aggregate that does not split exactly.
    """
    import sqlglot

    trees = [sqlglot.parse_one(e, read="duckdb") for e in exprs]
    keys: set[str] = set()
    n = 0
    for t in trees:
        aggs = _aggregates(t)
        n += len(aggs)
        for a in aggs:
            _keys_of(a, keys)
        if _columns(
            _replace_aggregates(t, lambda a: _exp().Null())
        ):  # a column outside any aggregate: not a per-msisdn aggregate
            raise NotSplittable(f"{t.sql(dialect='duckdb')}: a column outside an aggregate")
    stage2 = _Stage2(keys)
    out = []
    for t in trees:
        out.append(_replace_aggregates(t, stage2.rewrite).sql(dialect="duckdb"))
    return Rollup(sorted(keys), list(stage2.leaves), stage2.counted, out, n)


def _replace_aggregates(tree: Any, f: Any) -> Any:
    """A copy of tree with each outermost aggregate replaced by f(aggregate)."""
    if isinstance(tree, _exp().AggFunc):
        return f(tree)
    t = tree.copy()
    for a in _aggregates(t):
        a.replace(f(a))
    return t


def worth_it(r: Rollup) -> bool:
    """Roll up only when the grouping columns are few and the aggregates many."""
    return len(r.keys) <= MAX_KEYS and r.aggregates >= MIN_AGGREGATES


def stage1_sql(r: Rollup, source_sql: str) -> str:
    cols = ["msisdn", *(f'"{k}"' for k in r.keys), "count(*) AS _n"]
    for i, leaf in enumerate(r.leaves):
        cols.append(f"sum({leaf}) AS _s{i}")
        if i in r.counted:
            cols.append(f"count({leaf}) AS _c{i}")
    group = ", ".join(["msisdn", *(f'"{k}"' for k in r.keys)])
    return f"SELECT {', '.join(cols)}\nFROM ({source_sql}) AS src\nWHERE msisdn IS NOT NULL\nGROUP BY {group}"
