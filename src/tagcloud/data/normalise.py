"""Values an operator's systems routinely write in another form, brought to the canonical one.

Normalisation happens in SQL over the raw text column before the checks, only where the meaning
is unambiguous, and is counted (per column and kind) over the accepted rows, so the ingest report
and the ledger say how many values were rewritten and how:

- phone numbers (columns with the mobile / any-number pattern): full-width digits, spaces, dashes
  and parentheses, the country code ``+86`` / ``0086`` (and a bare ``86`` before an 11-digit mobile
  number); another country's ``+`` becomes ``00``;
- numbers: full-width digits, signs and points, thousands separators in groups of three
  (``1,234.5`` → ``1234.5``; ``1,5`` is not a thousands separator and stays a ``bad_type``);
  ``1.2E+10`` is read by the cast itself; a fraction in an integer column is a ``bad_type``, never
  rounded;
- dates and timestamps: besides ``YYYY-MM-DD`` / ``YYYY/MM/DD`` (with ``T`` or a space before the
  time), ``YYYYMMDD[HHMMSS]``, ``YYYY.MM.DD`` and ``YYYY年MM月DD日``; day-first or month-first
  slashes (``01/10/2026``) are ambiguous and stay a ``bad_type``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tagcloud.data.model import ANY_NUMBER, MOBILE_NUMBER, Column


class Normalisation(StrEnum):
    """Kinds of rewriting, counted per column in the report and the ledger."""

    FULL_WIDTH = "full_width"  # full-width digits / signs (０-９ ＋ － ．) made ASCII
    PHONE_COUNTRY_CODE = "phone_country_code"  # +86 / 0086 / 86 removed, other + → 00
    PHONE_SEPARATORS = "phone_separators"  # spaces, dashes, parentheses removed from a number
    THOUSANDS_SEPARATOR = "thousands_separator"  # 1,234.5 → 1234.5
    DATE_FORMAT = "date_format"  # a date in another unambiguous format


FULL = "０１２３４５６７８９＋－．，（）　"
HALF = "0123456789+-.,() "
NUMERIC = ("INTEGER", "BIGINT", "SMALLINT", "DOUBLE", "DECIMAL")
INTEGERS = ("INTEGER", "BIGINT", "SMALLINT")
DATE_FORMATS = ["%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日"]
TIMESTAMP_FORMATS = [
    "%Y%m%d%H%M%S",
    "%Y.%m.%d %H:%M:%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H时%M分%S秒",
    *DATE_FORMATS,
]


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass(frozen=True)
class ColumnRule:
    """How one column is normalised: the value expression and what to count (SQL over v)."""

    value: str  # the normalised (and, for typed columns, cast) value
    counts: dict[Normalisation, str]  # kind → condition over the raw column and the value


def is_phone(c: Column) -> bool:
    return c.pattern in (MOBILE_NUMBER, ANY_NUMBER)


def rule(c: Column, raw: str, value: str, cast: bool) -> ColumnRule | None:
    """The rule for column ``c`` whose raw text is the SQL ``raw`` (value column ``value``);
    ``cast``: the raw column is text to be cast to the model type. None: nothing to normalise."""
    typ = c.type.upper()
    full = f"regexp_matches({raw}, '[{FULL[:-1]}]')"
    if is_phone(c):
        s1 = f"translate({raw}, {_lit(FULL)}, {_lit(HALF)})"
        s2 = f"regexp_replace({s1}, '[ \\t()-]', '', 'g')"
        s3 = f"regexp_replace({s2}, '^(\\+86|0086)', '')"
        if c.pattern == MOBILE_NUMBER:
            s3 = f"regexp_replace({s3}, '^86(1[3-9][0-9]{{9}})$', '\\1')"
        else:
            s3 = f"regexp_replace({s3}, '^\\+', '00')"
        expr = f"CASE WHEN regexp_full_match({raw}, {_lit(c.pattern or '')}) THEN {raw} ELSE {s3} END"
        return ColumnRule(
            expr,
            {
                Normalisation.FULL_WIDTH: full,
                Normalisation.PHONE_SEPARATORS: f"regexp_matches({raw}, '[ \\t()（）　－-]')",
                Normalisation.PHONE_COUNTRY_CODE: (
                    f"{value} <> {raw} AND regexp_matches(regexp_replace({s1}, '[ \\t()-]', '', 'g'), "
                    "'^(\\+|0086|861)')"
                ),
            },
        )
    if not cast:
        return None
    if typ.startswith(NUMERIC):
        s1 = f"translate({raw}, {_lit(FULL)}, {_lit(HALF)})"
        s2 = (
            f"CASE WHEN regexp_full_match(trim({s1}), '[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]+)?') "
            f"THEN replace({s1}, ',', '') ELSE {s1} END"
        )
        x = f"(CASE WHEN regexp_matches({raw}, '[,{FULL[:-1]}]') THEN {s2} ELSE {raw} END)"
        expr = f"TRY_CAST({x} AS {c.type})"
        if typ.startswith(INTEGERS):
            # DuckDB rounds '12.5' to 13 when casting to an integer: a fraction is a bad value
            expr = (
                f"CASE WHEN (strpos({x}, '.') > 0 OR strpos(lower({x}), 'e') > 0) AND "
                f"TRY_CAST({x} AS DOUBLE) <> floor(TRY_CAST({x} AS DOUBLE)) THEN NULL ELSE {expr} END"
            )
        return ColumnRule(
            expr,
            {
                Normalisation.FULL_WIDTH: full,
                Normalisation.THOUSANDS_SEPARATOR: f"regexp_matches({raw}, '[0-9０-９][,，][0-9０-９]{{3}}')",
            },
        )
    if typ in ("DATE", "TIMESTAMP"):
        fmts = DATE_FORMATS if typ == "DATE" else TIMESTAMP_FORMATS
        lst = "[" + ", ".join(_lit(f) for f in fmts) + "]"
        direct = f"TRY_CAST({raw} AS {typ})"
        expr = f"coalesce({direct}, CAST(try_strptime(trim({raw}), {lst}) AS {typ}))"
        return ColumnRule(expr, {Normalisation.DATE_FORMAT: f"{direct} IS NULL"})
    return None
