"""Compile a condition (its SQLGlot tree) to a bitmap plan and run the plan on index shards.

The plan keeps SQL's three-valued logic, so it agrees with a DuckDB ``WHERE`` on the wide table
when attributes are NULL: every node yields the ids where it is TRUE and, only where a ``NOT``
above needs them, the ids where it is UNKNOWN. ``NOT x`` = alive − TRUE(x) − UNKNOWN(x).

Plan choices:

* AND/OR chains are flattened; AND runs its operands smallest first (sizes from the manifest) and
  stops as soon as the running result is empty; a ``NOT`` operand of an AND is a difference, never
  a complement.
* When only a count is wanted the last operation is a ``*_cardinality`` call, which counts
  without building the result.
* Numeric comparisons become code intervals on bit-sliced indexes, evaluated on dense words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.audience import bsi as bsi_mod
from tagcloud.audience.index import AudienceIndex, Shard, null_key, value_key
from tagcloud.audience.roaring import BITS_PER_CONTAINER, words_to_bitmap

if TYPE_CHECKING:
    import sqlglot.expressions as exp
    from pyroaring import BitMap, FrozenBitMap

    AnyBitMap = BitMap | FrozenBitMap


class PlanError(ValueError):
    """A condition the audience engine cannot run, naming the part of the condition at fault."""


# ---- plan nodes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """A bitmap of the index (flag, enum value, null set) with its column's null set."""

    key: str
    nulls: str | None
    est: int


@dataclass(frozen=True)
class AnyOf:
    """Union of several values of one enum column (``IN``, enum ranges)."""

    keys: tuple[str, ...]
    nulls: str | None
    est: int


@dataclass(frozen=True)
class Range:
    """``column`` code in an inclusive interval of its bit-sliced index; None = matches nothing."""

    column: str
    interval: tuple[int, int] | None
    nulls: str | None
    est: int


@dataclass(frozen=True)
class Group:
    """A saved group's members (portable Roaring bytes, so a plan can travel to a worker)."""

    name: str
    members: bytes
    est: int


@dataclass(frozen=True)
class Const:
    value: bool | None  # TRUE, FALSE or NULL
    est: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    est: int


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    est: int


@dataclass(frozen=True)
class Not:
    child: Node
    est: int


Node = Stored | AnyOf | Range | Group | Const | And | Or | Not
GroupResolver = Callable[[str], "AnyBitMap"]


# ---- compiling a SQLGlot tree -------------------------------------------------------------------


_FLIP = {"GT": "<", "GTE": "<=", "LT": ">", "LTE": ">=", "EQ": "=", "NEQ": "!="}
_OPS = {"GT": ">", "GTE": ">=", "LT": "<", "LTE": "<=", "EQ": "=", "NEQ": "!="}


class Compiler:
    """Turns one condition tree into plan nodes against one index."""

    def __init__(self, index: AudienceIndex, groups: GroupResolver | None = None) -> None:
        self.index = index
        self.groups = groups
        self.n = index.subscribers

    def compile(self, tree: exp.Expr) -> Node:
        import sqlglot.expressions as exp

        if isinstance(tree, exp.Paren):
            return self.compile(tree.this)
        if isinstance(tree, exp.And | exp.Or):
            kids = tuple(self.compile(t) for t in _flatten(tree, type(tree)))
            if isinstance(tree, exp.And):
                kids = _merge_ranges(
                    tuple(g for k in kids for g in (k.children if isinstance(k, And) else (k,)))
                )
                return kids[0] if len(kids) == 1 else And(kids, min(k.est for k in kids))
            return Or(kids, min(self.n, sum(k.est for k in kids)))
        if isinstance(tree, exp.Not):
            child = self.compile(tree.this)
            return Not(child, max(self.n - child.est, 0))
        if isinstance(tree, exp.Boolean):
            return Const(bool(tree.this), self.n if tree.this else 0)
        if isinstance(tree, exp.Null):
            return Const(None, 0)
        if isinstance(tree, exp.Column):
            return self._flag(tree)
        if isinstance(tree, exp.Is):
            if not isinstance(tree.expression, exp.Null):
                raise PlanError(f"{tree.sql()}: only IS NULL / IS NOT NULL are supported")
            name = self._name(tree.this)
            self.index.column(name)
            key = null_key(name)
            return Stored(key, None, self.index.estimate(key))
        if isinstance(tree, exp.Between):
            name = self._name(tree.this)
            lo = self.compile_compare(name, ">=", tree.args["low"])
            hi = self.compile_compare(name, "<=", tree.args["high"])
            both = _merge_ranges((lo, hi))
            return both[0] if len(both) == 1 else And(both, min(lo.est, hi.est))
        if isinstance(tree, exp.In):
            name = self._name(tree.this)
            if tree.args.get("query") is not None:
                raise PlanError(f"{tree.sql()}: IN needs a list of values, not a query")
            kids = tuple(self.compile_compare(name, "=", v) for v in tree.expressions)
            if (
                kids
                and all(isinstance(k, Stored) for k in kids)
                and self.index.column(name)["kind"] == "enum"
            ):
                stored = [k for k in kids if isinstance(k, Stored)]
                return AnyOf(
                    tuple(k.key for k in stored), stored[0].nulls, min(self.n, sum(k.est for k in kids))
                )
            return Or(kids, min(self.n, sum(k.est for k in kids)))
        if type(tree).__name__ in _OPS:
            left, right = tree.this, tree.expression
            op = _OPS[type(tree).__name__]
            if isinstance(left, exp.Column):
                return self.compile_compare(self._name(left), op, right)
            if isinstance(right, exp.Column):
                return self.compile_compare(self._name(right), _FLIP[type(tree).__name__], left)
            raise PlanError(f"{tree.sql()}: a comparison needs an attribute on one side")
        if isinstance(tree, exp.Anonymous | exp.Func) and _func_name(tree) == "in_group":
            args = tree.expressions
            if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
                raise PlanError(f"{tree.sql()}: in_group takes one quoted group name")
            return self._group(args[0].this)
        raise PlanError(f"{tree.sql()}: not supported in an audience condition")

    # -- leaves

    def _name(self, node: exp.Expr) -> str:
        import sqlglot.expressions as exp

        if not isinstance(node, exp.Column) or node.table:
            raise PlanError(f"{node.sql()}: expected an attribute or tag name")
        return str(node.name)

    def _flag(self, node: exp.Column) -> Node:
        name = self._name(node)
        col = self.index.column(name)
        if col["kind"] != "flag":
            raise PlanError(f"{name}: is a {col['kind']}, not a flag; compare it with a value")
        return Stored(name, null_key(name) if col["nulls"] else None, int(col["count"]))

    def _group(self, name: str) -> Node:
        if self.groups is None:
            raise PlanError(f"in_group({name!r}): no saved groups are available here")
        bm = self.groups(name)
        return Group(name, bm.serialize(), len(bm))

    def compile_compare(self, name: str, op: str, literal: exp.Expr) -> Node:
        """``name op literal`` → a plan leaf (op one of = != < <= > >=)."""
        col = self.index.column(name)
        kind = col["kind"]
        nulls = null_key(name) if col["nulls"] else None
        value = _literal(literal, name)
        if value is None:  # comparing with NULL is UNKNOWN everywhere
            return Const(None, 0)
        if kind == "flag":
            if not isinstance(value, bool) or op not in ("=", "!="):
                raise PlanError(f"{name} {op} {literal.sql()}: a flag compares only = / != TRUE or FALSE")
            leaf = Stored(name, nulls, int(col["count"]))
            positive = value == (op == "=")
            return leaf if positive else Not(leaf, max(self.n - leaf.est - col["nulls"], 0))
        if kind == "enum":
            if not isinstance(value, str):
                raise PlanError(f"{name} {op} {literal.sql()}: {name} takes text values like '{_first(col)}'")
            if op in ("=", "!="):
                key = value_key(name, value)
                # a value no subscriber has (yet) matches nobody, as in SQL; closed value lists are
                # checked by the condition language before we get here
                leaf = Stored(key, nulls, int(col["counts"].get(value, 0)))
                return leaf if op == "=" else Not(leaf, max(self.n - leaf.est, 0))
            # SQL compares text by bytes; Python compares str by code point: the same order in UTF-8
            pick = [v for v in col["counts"] if _cmp(v, op, value)]
            return AnyOf(tuple(value_key(name, v) for v in pick), nulls, sum(col["counts"][v] for v in pick))
        if kind in ("number", "date"):
            if kind == "date" and isinstance(value, str):
                value = _date_days(value, name)
            if isinstance(value, str | bool):
                raise PlanError(f"{name} {op} {literal.sql()}: {name} is numeric, compare it with a number")
            spec = self.index.bsi_spec(name)
            distinct = self.index.shards[0].distinct(name) if spec.encoding == "rank" else None
            interval = bsi_mod.code_interval(spec, distinct, "=" if op == "!=" else op, value)
            est = _range_estimate(interval, spec, int(col["count"]))
            rng = Range(name, interval, nulls, est)
            return rng if op != "!=" else Not(rng, max(int(col["count"]) - est, 0))
        raise PlanError(f"{name}: a {kind} attribute cannot be used in an audience condition")


def _merge_ranges(kids: tuple[Node, ...]) -> tuple[Node, ...]:
    """Ranges on the same column inside one AND → one range (one pass over the slices)."""
    ranges: dict[str, Range] = {}
    rest: list[Node] = []
    for k in kids:
        if isinstance(k, Range) and k.column in ranges:
            r = ranges[k.column]
            iv: tuple[int, int] | None = None
            if r.interval is not None and k.interval is not None:
                a, b = max(r.interval[0], k.interval[0]), min(r.interval[1], k.interval[1])
                iv = (a, b) if a <= b else None
            ranges[k.column] = Range(k.column, iv, k.nulls, min(r.est, k.est) if iv else 0)
        elif isinstance(k, Range):
            ranges[k.column] = k
        else:
            rest.append(k)
    return (*ranges.values(), *rest)


def _flatten(tree: exp.Expr, kind: type) -> list[exp.Expr]:
    import sqlglot.expressions as exp

    out: list[exp.Expr] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        while isinstance(t, exp.Paren):
            t = t.this
        if isinstance(t, kind):
            stack.extend([t.expression, t.this])
        else:
            out.append(t)
    return out


def _func_name(tree: exp.Expr) -> str:
    import sqlglot.expressions as exp

    if isinstance(tree, exp.Anonymous):
        return str(tree.this).lower()
    return str(getattr(tree, "sql_name", lambda: "")()).lower()


def _first(col: dict[str, Any]) -> str:
    values = list(col.get("counts") or [])
    return values[0] if values else "…"


def _cmp(a: str, op: str, b: str) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _literal(node: exp.Expr, name: str) -> Fraction | str | bool | None:
    import sqlglot.expressions as exp

    if isinstance(node, exp.Paren):
        return _literal(node.this, name)
    if isinstance(node, exp.Neg):
        v = _literal(node.this, name)
        if not isinstance(v, Fraction):
            raise PlanError(f"{node.sql()}: only numbers can be negated")
        return -v
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return str(node.this.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        try:
            return Fraction(Decimal(str(node.this)))
        except (InvalidOperation, ValueError) as e:
            raise PlanError(f"{name}: {node.sql()} is not a number") from e
    raise PlanError(f"{name}: {node.sql()} is not a literal value")


def _date_days(text: str, name: str) -> Fraction:
    from datetime import date

    try:
        return Fraction((date.fromisoformat(text) - date(1970, 1, 1)).days)
    except ValueError as e:
        raise PlanError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from e


def _range_estimate(interval: tuple[int, int] | None, spec: bsi_mod.BsiSpec, count: int) -> int:
    if interval is None:
        return 0
    a, b = interval
    return max(1, int(count * (b - a + 1) / (1 << spec.bits)))


# ---- running a plan on one shard ----------------------------------------------------------------


class ShardRun:
    """Evaluates plan nodes on one shard: ``truth(node)`` and, where NOT needs it, ``unknown``."""

    def __init__(self, shard: Shard) -> None:
        self.shard = shard
        self.alive = shard.bitmap("_alive")

    def _null(self, key: str | None) -> AnyBitMap | None:
        if key is None:
            return None
        bm = self.shard.bitmap(key)
        return bm if len(bm) else None

    def range_words(self, node: Range) -> np.ndarray:
        return bsi_mod.range_words(self.shard.slices(node.column), node.interval)

    def eval(self, node: Node, need_unknown: bool) -> tuple[AnyBitMap, AnyBitMap | None]:
        """(ids where the node is TRUE, ids where it is UNKNOWN or None if wanted/known empty)."""
        from pyroaring import BitMap, FrozenBitMap

        if isinstance(node, Stored):
            return self.shard.bitmap(node.key), self._null(node.nulls) if need_unknown else None
        if isinstance(node, AnyOf):
            t = BitMap.union(*(self.shard.bitmap(k) for k in node.keys)) if node.keys else BitMap()
            return t, self._null(node.nulls) if need_unknown else None
        if isinstance(node, Range):
            words = self.range_words(node)
            t = words_to_bitmap(words, self.shard.lo // BITS_PER_CONTAINER)
            return t, self._null(node.nulls) if need_unknown else None
        if isinstance(node, Group):
            return FrozenBitMap.deserialize(node.members) & self.alive, None
        if isinstance(node, Const):
            if node.value is None:
                return BitMap(), self.alive
            return (self.alive if node.value else BitMap()), None
        if isinstance(node, Not):
            t, u = self.eval(node.child, True)
            out = self.alive - t
            if u is not None:
                out -= u
            return out, u
        if isinstance(node, And):
            return self._and(node, need_unknown)
        if isinstance(node, Or):
            parts = [self.eval(c, need_unknown) for c in node.children]
            t = BitMap.union(*(p[0] for p in parts))
            us = [p[1] for p in parts if p[1] is not None]
            u = (BitMap.union(*us) - t) if us else None
            return t, u
        raise TypeError(f"unknown plan node {node!r}")

    def _and(self, node: And, need_unknown: bool) -> tuple[AnyBitMap, AnyBitMap | None]:
        from pyroaring import BitMap

        if need_unknown:
            # UNKNOWN(AND) = ∩(TRUE ∪ UNKNOWN) − TRUE: needs every operand's both sets
            parts = [self.eval(c, True) for c in node.children]
            t = BitMap.intersection(*(p[0] for p in parts))
            if all(p[1] is None for p in parts):
                return t, None
            tu = BitMap.intersection(*((p[0] | p[1]) if p[1] is not None else p[0] for p in parts))
            return t, tu - t
        acc = self.and_true(node.children, last=None)
        return acc, None

    def and_true(self, children: tuple[Node, ...], last: str | None) -> Any:
        """TRUE ids of an AND, smallest operand first. ``last='count'`` returns only the count."""
        pos = sorted((c for c in children if not isinstance(c, Not)), key=lambda c: c.est)
        neg = sorted((c for c in children if isinstance(c, Not)), key=lambda c: -c.est)
        steps: list[tuple[bool, Node]] = [(True, c) for c in pos] + [(False, c.child) for c in neg]
        acc: AnyBitMap | None = None
        for i, (positive, c) in enumerate(steps):
            final = last == "count" and i == len(steps) - 1
            if positive:
                t, _ = self.eval(c, False)
                if acc is None:
                    if final:
                        return len(t)
                    acc = t
                elif final:
                    return acc.intersection_cardinality(t)
                else:
                    acc = acc & t
            else:
                t, u = self.eval(c, True)
                base = acc if acc is not None else self.alive
                if u is not None:
                    t = t | u
                if final:
                    return base.difference_cardinality(t)
                acc = base - t
            if not acc:
                return 0 if last == "count" else acc
        assert acc is not None
        return len(acc) if last == "count" else acc

    def truth(self, node: Node) -> AnyBitMap:
        return self.eval(node, False)[0]

    def count(self, node: Node) -> int:
        """Members of the node in this shard, counting without building the result where possible."""
        if isinstance(node, And):
            return int(self.and_true(node.children, last="count"))
        if isinstance(node, Stored) and not node.key.endswith(":null"):
            return len(self.shard.bitmap(node.key))
        if isinstance(node, Range):
            return int(np.bitwise_count(self.range_words(node)).sum())
        if isinstance(node, Or) and len(node.children) > 1:
            from pyroaring import BitMap

            head = BitMap.union(*(self.truth(c) for c in node.children[:-1]))
            return int(head.union_cardinality(self.truth(node.children[-1])))
        return len(self.truth(node))


def describe(node: Node, depth: int = 0) -> str:
    """The plan as indented text, operands in the order they run (for ``--explain``)."""
    pad = "  " * depth
    if isinstance(node, And):
        pos = sorted((c for c in node.children if not isinstance(c, Not)), key=lambda c: c.est)
        neg = [c for c in node.children if isinstance(c, Not)]
        lines = [f"{pad}AND (~{node.est:,}) smallest first, NOT operands as differences"]
        lines += [describe(c, depth + 1) for c in pos + neg]
        return "\n".join(lines)
    if isinstance(node, Or):
        return "\n".join([f"{pad}OR (~{node.est:,})"] + [describe(c, depth + 1) for c in node.children])
    if isinstance(node, Not):
        return f"{pad}NOT (~{node.est:,})\n" + describe(node.child, depth + 1)
    if isinstance(node, Stored):
        return f"{pad}bitmap {node.key} ({node.est:,})"
    if isinstance(node, AnyOf):
        return f"{pad}union of {len(node.keys)} bitmaps {list(node.keys)[:5]} ({node.est:,})"
    if isinstance(node, Range):
        return f"{pad}bit-sliced {node.column} codes in {node.interval} (~{node.est:,}) on dense words"
    if isinstance(node, Group):
        return f"{pad}saved group {node.name!r} ({node.est:,})"
    return f"{pad}constant {node.value}"
