"""A checked condition compiled to a vectorised predicate over columns (numpy), with SQL's NULLs.

The event rules' hot path: a micro-batch of events joined with the subscribers' attributes is a
set of columns; a rule's condition becomes a tree of closures built once, and a call runs a few
numpy operations per node over the whole batch — no Python per row. Three-valued logic is kept
exactly as in SQL (``NOT (x > 1)`` is not true where ``x`` is NULL), so the predicate selects the
same rows as ``WHERE <condition>`` in DuckDB; a property test holds it to that.

Columns: ``{name: (values, nulls)}`` with ``values`` a numpy array (float / int for numbers, bool for
flags, str (``<U``) or object for text and enums, ``datetime64[D]`` for dates) and ``nulls`` a bool
array or None (no NULLs). Names are the catalogue's names and, in event rules, ``event.<field>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sqlglot import exp

from tagcloud.tags.condition import EVENT_TABLE, GROUP_FUNCTION, Condition, ConditionError

Column = tuple[np.ndarray, "np.ndarray | None"]
Columns = Mapping[str, Column]
# a boolean node gives (definitely true, definitely false); neither means NULL
_Bool = Callable[[Columns, int], tuple[np.ndarray, np.ndarray]]
_Val = Callable[[Columns, int], tuple[Any, "np.ndarray | None"]]

_UFUNC: dict[type[exp.Expr], Any] = {
    exp.EQ: np.equal,
    exp.NEQ: np.not_equal,
    exp.LT: np.less,
    exp.LTE: np.less_equal,
    exp.GT: np.greater,
    exp.GTE: np.greater_equal,
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def column_name(col: exp.Column) -> str:
    """The column key a condition's name reads: ``arpu_3m`` or ``event.province``."""
    return f"{EVENT_TABLE}.{col.name}" if col.table == EVENT_TABLE else col.name


class Predicate:
    """``predicate(columns, n)`` → bool mask of the ``n`` rows where the condition is true."""

    def __init__(self, condition: Condition) -> None:
        self.condition = condition
        self.columns = frozenset(column_name(c) for c in condition.tree.find_all(exp.Column))
        self._fn = _Compiler(condition.text).boolean(condition.tree)

    def __call__(self, columns: Columns, n: int) -> np.ndarray:
        missing = self.columns - set(columns)
        if missing:
            raise KeyError(
                f"the batch lacks the column(s) {', '.join(sorted(missing))} for {self.condition.text!r}"
            )
        return self._fn(columns, n)[0]


def compile_predicate(condition: Condition) -> Predicate:
    """Compile a condition from :func:`~tagcloud.tags.condition.parse_condition` (audience or event
    mode; expression mode's arithmetic is refused with a ConditionError)."""
    return Predicate(condition)


def _const_bool(value: bool) -> _Bool:
    def f(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(n, value), np.full(n, not value)

    return f


def _known(a: np.ndarray | None, b: np.ndarray | None, n: int) -> np.ndarray | None:
    if a is None:
        return None if b is None else ~b
    return ~a if b is None else ~(a | b)


def _split(hit: np.ndarray, known: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if known is None:
        return hit, ~hit
    return hit & known, ~hit & known


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, message: str) -> ConditionError:
        return ConditionError(message, self.text)

    def boolean(self, node: exp.Expr) -> _Bool:
        if isinstance(node, exp.And):
            a, b = self.boolean(node.this), self.boolean(node.expression)

            def f_and(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
                at, af = a(cols, n)
                bt, bf = b(cols, n)
                return at & bt, af | bf

            return f_and
        if isinstance(node, exp.Or):
            a, b = self.boolean(node.this), self.boolean(node.expression)

            def f_or(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
                at, af = a(cols, n)
                bt, bf = b(cols, n)
                return at | bt, af & bf

            return f_or
        if isinstance(node, exp.Not):
            a = self.boolean(node.this)

            def f_not(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
                t, f = a(cols, n)
                return f, t

            return f_not
        if isinstance(node, exp.Paren):
            return self.boolean(node.this)
        if isinstance(node, exp.Boolean):
            return _const_bool(bool(node.this))
        if isinstance(node, exp.Column):
            key = column_name(node)

            def f_flag(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
                v, nulls = cols[key]
                return _split(v.astype(bool, copy=False), None if nulls is None else ~nulls)

            return f_flag
        if type(node) in _UFUNC:
            return self.comparison(node)
        if isinstance(node, exp.Between):
            lo = exp.GTE(this=node.this, expression=node.args["low"])
            hi = exp.LTE(this=node.this.copy(), expression=node.args["high"])
            return self.boolean(exp.And(this=lo, expression=hi))
        if isinstance(node, exp.In):
            return self.in_list(node)
        if isinstance(node, exp.Is):
            return self.is_(node)
        if isinstance(node, (exp.Like, exp.ILike)):
            return self.like(node)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == GROUP_FUNCTION:
            raise self.fail(f"{GROUP_FUNCTION}() is not available in an event rule: use the group's tags")
        raise self.fail(f"{node.sql()!r} cannot be evaluated on an event batch")

    def value(self, node: exp.Expr) -> _Val:
        if isinstance(node, exp.Column):
            key = column_name(node)

            def f_col(cols: Columns, n: int) -> tuple[Any, np.ndarray | None]:
                return cols[key]

            return f_col
        const = self.literal(node)

        def f_const(cols: Columns, n: int) -> tuple[Any, np.ndarray | None]:
            return const, None

        return f_const

    def literal(self, node: exp.Expr) -> Any:
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            return -float(node.this.this)
        if isinstance(node, exp.Literal):
            if node.is_string:
                s = str(node.this)
                return np.datetime64(s, "D") if _DATE.match(s) else s
            return float(node.this)
        raise self.fail(f"{node.sql()!r}: an event rule compares names with values or names")

    def comparison(self, node: exp.Expr) -> _Bool:
        ufunc = _UFUNC[type(node)]
        left, right = self.value(node.this), self.value(node.expression)

        def f_cmp(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
            lv, ln = left(cols, n)
            rv, rn = right(cols, n)
            lv, rv = _align(lv, rv)
            hit = np.asarray(ufunc(lv, rv))
            if hit.ndim == 0:
                hit = np.full(n, bool(hit))
            return _split(hit, _known(ln, rn, n))

        return f_cmp

    def in_list(self, node: exp.In) -> _Bool:
        this = self.value(node.this)
        items = [self.literal(i) for i in node.expressions]

        def f_in(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
            v, nulls = this(cols, n)
            v, probe = _align(v, np.array(items))
            return _split(np.isin(v, probe), None if nulls is None else ~nulls)

        return f_in

    def is_(self, node: exp.Is) -> _Bool:
        this, target = self.value(node.this), node.expression

        if isinstance(target, exp.Null):

            def f_null(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
                _, nulls = this(cols, n)
                m = np.zeros(n, bool) if nulls is None else nulls
                return m, ~m

            return f_null
        want = bool(target.this)

        def f_is(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
            v, nulls = this(cols, n)
            hit = v.astype(bool) == want
            if nulls is not None:
                hit = hit & ~nulls
            return hit, ~hit  # IS TRUE / IS FALSE is never NULL

        return f_is

    def like(self, node: exp.Expr) -> _Bool:
        this = self.value(node.this)
        pattern = str(node.expression.this)
        insensitive = isinstance(node, exp.ILike)
        body = pattern.strip("%")
        simple = "_" not in pattern and "%" not in body
        if simple:
            starts, ends = pattern.startswith("%"), pattern.endswith("%")
        rx = re.compile(
            "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern) + r"\Z",
            re.S | (re.I if insensitive else 0),
        )

        def f_like(cols: Columns, n: int) -> tuple[np.ndarray, np.ndarray]:
            v, nulls = this(cols, n)
            s = np.asarray(v).astype(str)
            if insensitive:
                s, b = np.char.lower(s), body.lower()
            else:
                b = body
            if simple:
                if starts and ends:
                    hit = np.char.find(s, b) >= 0
                elif starts:
                    hit = np.char.endswith(s, b)
                elif ends:
                    hit = np.char.startswith(s, b)
                else:
                    hit = s == b
            else:  # a general pattern: one regex match per value (LIKE with '_' is rare in rules)
                hit = np.frompyfunc(lambda x: rx.match(x) is not None, 1, 1)(s).astype(bool)
            return _split(np.asarray(hit, bool), None if nulls is None else ~nulls)

        return f_like


def _align(a: Any, b: Any) -> tuple[Any, Any]:
    """Make two sides comparable: dates as datetime64, text with text."""
    if isinstance(b, np.datetime64) and isinstance(a, np.ndarray) and a.dtype.kind != "M":
        a = a.astype("datetime64[D]")
    elif isinstance(a, np.datetime64) and isinstance(b, np.ndarray) and b.dtype.kind != "M":
        b = b.astype("datetime64[D]")
    elif (
        isinstance(b, np.ndarray)
        and b.dtype.kind == "M"
        and isinstance(a, np.ndarray)
        and a.dtype.kind != "M"
    ):
        a = a.astype("datetime64[D]")
    return a, b
