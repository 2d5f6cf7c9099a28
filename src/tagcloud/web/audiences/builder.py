"""Turning what a marketer picks in the builder (a column, an operator, values) into condition
text of the one condition language, and the builder's rows into one condition. The text is then
parsed and checked by ``tagcloud.tags.condition`` like any typed condition: nothing here reaches
SQL directly."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Operators the picker offers per column kind (the syntax help lists the same).
OPERATORS: dict[str, tuple[str, ...]] = {
    "flag": ("is", "is_not"),
    "enum": ("=", "!=", "in"),
    "number": (">=", "<=", ">", "<", "=", "between"),
    "date": (">=", "<=", "=", "between"),
}


class PickError(ValueError):
    """A pick that cannot become a condition (unknown column, operator not for its kind, bad value)."""


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(column: str, text: str) -> str:
    try:
        x = float(text)
    except ValueError:
        raise PickError(f"{column}: {text!r} is not a number") from None
    return str(int(x)) if x.is_integer() else repr(x)


def condition_from_pick(column: str, meta: dict[str, Any] | None, op: str, value: str = "") -> str:
    """One column, operator and value(s) (comma-separated for ``in`` and ``between``) → condition text."""
    if meta is None:
        raise PickError(f"unknown column {column!r}")
    kind = meta.get("kind", "")
    if op not in OPERATORS.get(kind, ()):
        raise PickError(f"{column}: operator {op!r} is not one of {', '.join(OPERATORS.get(kind, ()))}")
    values = [v.strip() for v in value.split(",") if v.strip()]
    if kind == "flag":
        return column if op == "is" else f"NOT {column}"
    if not values:
        raise PickError(f"{column}: give a value")
    if kind == "enum":
        allowed = meta.get("values") or list(meta.get("counts", {}))
        unknown = [v for v in values if allowed and v not in allowed]
        if unknown:
            raise PickError(f"{column}: {', '.join(unknown)} not among {', '.join(map(str, allowed[:12]))}")
        if op == "in":
            return f"{column} IN ({', '.join(_quote(v) for v in values)})"
        return f"{column} {op} {_quote(values[0])}"
    lit = (lambda v: _quote(v)) if kind == "date" else (lambda v: _number(column, v))
    if op == "between":
        if len(values) != 2:
            raise PickError(f"{column}: between needs two values, e.g. 50,100")
        return f"{column} BETWEEN {lit(values[0])} AND {lit(values[1])}"
    return f"{column} {op} {lit(values[0])}"


def combine_rows(rows: Iterable[str]) -> str:
    """The builder's condition rows ANDed, each row one parenthesised operand (empty rows skipped)."""
    parts = [r.strip() for r in rows if r and r.strip()]
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({p})" for p in parts)
