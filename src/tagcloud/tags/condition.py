"""The one condition language: a SQL boolean expression over named attributes and tags.

Every condition in the product (tag rule, audience, event rule, alert threshold) is parsed here with
SQLGlot, checked against a catalogue of names (``Mapping[str, NameInfo]``) and kept as a tree. The
tree is compiled by its consumers (SQL for DuckDB / Spark via :meth:`Condition.to_sql`, bitmap plans
in the audience engine); the user's text itself is never pasted into SQL and never reaches ``eval``.

Two modes:

* audience mode (default): every comparison is a name against literals, the forms a bitmap engine
  answers directly (``arpu_3m >= 80``, ``brand IN ('gotone', 'mzone')``, ``is_student``,
  ``age_band IS NULL``, ``in_group('spring_push')``). Comparisons are normalised so the name is on
  the left (``80 <= arpu_3m`` becomes ``arpu_3m >= 80``).
* ``allow_expressions=True`` (tag rules compiled to SQL only): arithmetic and a short allow-list of
  functions (:data:`ALLOWED_FUNCTIONS`) on either side of a comparison.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType


class NameKind(StrEnum):
    """What a name in a condition stands for, and so which comparisons make sense on it."""

    FLAG = "flag"  # boolean: usable bare (``is_student``), with NOT, = TRUE/FALSE, IS NULL
    ENUM = "enum"  # one of a closed set of string values: =, <>, IN, NOT IN, IS NULL
    NUMBER = "number"  # =, <>, <, <=, >, >=, BETWEEN, IN
    TEXT = "text"  # free text: =, <>, IN, LIKE
    DATE = "date"  # compared with 'YYYY-MM-DD' literals
    GROUP = "group"  # a saved self-service group, referenced as in_group('name')


@dataclass(frozen=True)
class NameInfo:
    """One name a condition may use: an attribute, a tag, or a saved group."""

    name: str
    kind: NameKind
    values: tuple[str, ...] | None = None  # enum values (None: not an enum, or values not closed)


# Functions allowed in expression mode, by SQLGlot node class (the parser maps each SQL name to one).
ALLOWED_FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.Coalesce: "COALESCE",
    exp.Abs: "ABS",
    exp.Least: "LEAST",
    exp.Greatest: "GREATEST",
    exp.Round: "ROUND",
    exp.Floor: "FLOOR",
    exp.Ceil: "CEIL",
    exp.Nullif: "NULLIF",
    exp.Sqrt: "SQRT",
    exp.Ln: "LN",
}
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
# When the literal is on the left, the comparison is turned round so the name comes first.
_FLIPPED: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.EQ: exp.EQ,
    exp.NEQ: exp.NEQ,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
}
_SQL_OPERATOR: dict[type[exp.Expr], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GROUP_FUNCTION = "in_group"
EVENT_TABLE = "event"  # event rules name the event's fields ``event.<field>``
MAX_LENGTH = 20_000  # a condition longer than this is a mistake or an attack, not a segment


class ConditionError(ValueError):
    """A condition that cannot be accepted, pointing at the offending token.

    ``start``/``end`` are character offsets into ``text`` (end exclusive); ``name`` is the unknown
    or misused name, if any, and ``suggestion`` the closest known name.
    """

    def __init__(
        self,
        message: str,
        text: str,
        start: int = 0,
        end: int | None = None,
        name: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.message = message
        self.text = text
        self.start = max(0, min(start, len(text)))
        self.end = max(self.start + 1, min(len(text), end if end is not None else len(text)))
        self.name = name
        self.suggestion = suggestion
        super().__init__(str(self))

    def __str__(self) -> str:
        # Show the line holding the token with a caret line under it, as compilers do.
        line_start = self.text.rfind("\n", 0, self.start) + 1
        line_end = self.text.find("\n", self.start)
        line_end = len(self.text) if line_end < 0 else line_end
        line = self.text[line_start:line_end]
        width = max(1, min(self.end, line_end) - self.start)
        caret = " " * (self.start - line_start) + "^" * width
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        return f"{self.message}{hint}\n  {line}\n  {caret}"


@dataclass(frozen=True)
class Condition:
    """A parsed, checked condition: its text, its normalised tree and the names it uses."""

    text: str
    tree: exp.Expr
    names: frozenset[str]
    groups: frozenset[str]
    event_fields: frozenset[str] = frozenset()  # ``event.<field>`` names used (event rules only)

    def to_sql(
        self,
        dialect: str = "duckdb",
        qualify: str | None = None,
        group_sql: Callable[[str], exp.Expr] | None = None,
    ) -> str:
        """The condition as SQL for ``dialect``; every name quoted, qualified by ``qualify`` if given.

        ``in_group('x')`` references are replaced by ``group_sql('x')``; without it a condition that
        references groups cannot become SQL (groups live in the audience engine).
        """
        tree = self.tree.copy()
        for column in list(tree.find_all(exp.Column)):
            if column.table == EVENT_TABLE:
                continue  # event fields stay ``"event"."field"``: the caller names its event relation so
            if qualify is not None:
                column.set("table", exp.to_identifier(qualify, quoted=True))
        for call in list(tree.find_all(exp.Anonymous)):
            if str(call.this).lower() == GROUP_FUNCTION:
                group = call.expressions[0].this
                if group_sql is None:
                    raise ConditionError(
                        f"in_group({group!r}) needs the audience engine: pass group_sql to turn it into SQL",
                        self.text,
                    )
                call.replace(group_sql(group))
        return tree.sql(dialect=dialect, identify=True)


def parse_condition(
    text: str,
    names: Mapping[str, NameInfo],
    *,
    allow_expressions: bool = False,
    event_names: Mapping[str, NameInfo] | None = None,
) -> Condition:
    """Parse ``text`` and check it against ``names``; return a :class:`Condition` or raise ConditionError.

    ``event_names`` (event rules): the fields of one event type, keyed ``event.<field>``
    (``realtime.events.event_names``). The condition may then name them next to the catalogue's
    names, and may compare a name with another name (``event.city <> city_id``), which an event
    predicate evaluates row by row but a bitmap engine could not.
    """
    if not isinstance(text, str):
        raise ConditionError(f"a condition must be text, not {type(text).__name__}", "")
    if not text.strip():
        raise ConditionError("the condition is empty", text)
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"the condition is longer than {MAX_LENGTH:,} characters", text)
    _check_tokens(text)
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
        checker = _Checker(text, names, allow_expressions, event_names)
        tree = checker.normalise(tree)
        checker.boolean(tree)
    except (ParseError, TokenError) as e:
        raise _parse_error(text, e) from None
    except RecursionError:
        raise ConditionError("the condition is nested too deeply", text) from None
    return Condition(
        text, tree, frozenset(checker.names), frozenset(checker.groups), frozenset(checker.event_fields)
    )


def _check_tokens(text: str) -> None:
    """Refuse statement separators and comments before parsing: both are ways of hiding SQL."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(text)
    except (TokenError, ParseError) as e:
        raise ConditionError(f"cannot read the condition: {e}", text) from None
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            raise ConditionError("';' is not allowed: a condition is one expression", text, token.start)
        if token.comments:
            at = _comment_offset(text, token.end)
            raise ConditionError("comments are not allowed in a condition", text, at, at + 2)
    # Comments the tokenizer attached to nothing (e.g. a lone `--` at the end) still count.
    for marker in ("--", "/*"):
        idx = _outside_strings(text, marker)
        if idx >= 0:
            raise ConditionError("comments are not allowed in a condition", text, idx, idx + 2)


def _outside_strings(text: str, marker: str) -> int:
    """Offset of ``marker`` outside single-quoted strings and quoted identifiers, or -1."""
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if ch == quote:
                if i + 1 < len(text) and text[i + 1] == quote:  # '' escapes a quote
                    i += 2
                    continue
                quote = None
        elif ch in "'\"":
            quote = ch
        elif text.startswith(marker, i):
            return i
        i += 1
    return -1


def _comment_offset(text: str, after: int) -> int:
    for marker in ("--", "/*"):
        idx = _outside_strings(text, marker)
        if idx >= 0:
            return idx
    return after


def _parse_error(text: str, e: Exception) -> ConditionError:
    errors: list[dict[str, Any]] = getattr(e, "errors", None) or []
    start = 0
    if errors:
        err = errors[0]
        line, col = int(err.get("line") or 1), int(err.get("col") or 1)
        lines = text.split("\n")
        start = sum(len(x) + 1 for x in lines[: line - 1]) + max(0, col - 1)
        highlight = str(err.get("highlight") or "")
        if highlight:
            start = max(0, start - len(highlight) + 1)
        desc = str(err.get("description") or "syntax error")
        # SQLGlot names its node classes in messages; say the SQL word instead.
        desc = re.sub(r"<class 'sqlglot\.expressions[.\w]*\.(\w+)'>", lambda m: m.group(1).upper(), desc)
        desc = desc.replace("Required keyword: 'expression' missing for", "incomplete comparison:")
        return ConditionError(f"syntax error: {desc}", text, start, start + max(1, len(highlight)))
    return ConditionError(f"syntax error: {e}", text, start)


class _Checker:
    """Walks a parsed tree: checks node types, names, kinds and literals; collects names used."""

    def __init__(
        self,
        text: str,
        names: Mapping[str, NameInfo],
        allow_expressions: bool,
        event_names: Mapping[str, NameInfo] | None = None,
    ) -> None:
        self.text = text
        self.catalogue = {k.lower(): v for k, v in names.items()}
        self.allow_expressions = allow_expressions
        self.events = {k.lower(): v for k, v in event_names.items()} if event_names is not None else None
        self.names: set[str] = set()
        self.groups: set[str] = set()
        self.event_fields: set[str] = set()

    # -- positions and errors -----------------------------------------------------------------
    def span(self, node: exp.Expr) -> tuple[int, int]:
        """Character span of a node, from the token positions SQLGlot keeps on its leaves."""
        starts, ends = [], []
        for leaf in node.walk():
            meta = leaf.meta if isinstance(leaf, exp.Expr) else None
            if meta and "start" in meta:
                starts.append(meta["start"])
                ends.append(meta["end"] + 1)
        if starts:
            start, end = min(starts), max(ends)
            # Functions keep no position of their own: widen to the name before the '('.
            if isinstance(node, exp.Func) and not isinstance(node, exp.Column):
                m = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\s*\(\s*$", self.text[:start])
                if m:
                    start = m.start(1)
                close = self.text.find(")", end)
                end = close + 1 if close >= 0 else end
            return start, end
        return self._find_keyword(node)

    def _query_span(self, node: exp.Expr) -> tuple[int, int]:
        word = "exists" if isinstance(node, exp.Exists) else "select"
        m = re.search(rf"\b{word}\b", self.text, re.IGNORECASE)
        return (m.start(), m.end()) if m else self.span(node)

    def _find_keyword(self, node: exp.Expr) -> tuple[int, int]:
        word = node.key.upper()
        if isinstance(node, exp.Func):
            word = node.sql_name() if not isinstance(node, exp.Anonymous) else str(node.this)
        m = re.search(rf"\b{re.escape(word)}\b", self.text, re.IGNORECASE)
        if m:
            return m.start(), m.end()
        return 0, len(self.text)

    def error(self, message: str, node: exp.Expr, **kw: Any) -> ConditionError:
        start, end = self.span(node)
        return ConditionError(message, self.text, start, end, **kw)

    def snippet(self, node: exp.Expr) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    # -- normalisation ------------------------------------------------------------------------
    def normalise(self, tree: exp.Expr) -> exp.Expr:
        """Lower-case identifiers; in audience mode put the name on the left of each comparison."""
        for ident in tree.find_all(exp.Identifier):
            ident.set("this", ident.this.lower())
            ident.set("quoted", False)
        if not self.allow_expressions:
            for cmp in list(tree.find_all(*_COMPARISONS)):
                left, right = cmp.this, cmp.expression
                if _is_literal(left) and isinstance(right, exp.Column):
                    flipped = _FLIPPED[type(cmp)](this=right, expression=left)
                    if cmp is tree:
                        tree = flipped
                    else:
                        cmp.replace(flipped)
        return tree

    # -- boolean context ------------------------------------------------------------------------
    def boolean(self, node: exp.Expr) -> None:
        """Check a node used where a condition (true/false) is expected."""
        if isinstance(node, (exp.And, exp.Or)):
            self.boolean(node.this)
            self.boolean(node.expression)
        elif isinstance(node, (exp.Not, exp.Paren)):
            self.boolean(node.this)
        elif isinstance(node, exp.Boolean):
            return
        elif isinstance(node, exp.Column):
            info = self.name(node)
            if info.kind != NameKind.FLAG:
                raise self.error(
                    f"{info.name} is {_article(info.kind)} {info.kind.value}, not a flag: compare it "
                    f"(e.g. {_example(info)})",
                    node,
                    name=info.name,
                )
        elif isinstance(node, _COMPARISONS):
            self.comparison(node)
        elif isinstance(node, exp.Between):
            self.between(node)
        elif isinstance(node, exp.In):
            self.in_list(node)
        elif isinstance(node, exp.Is):
            self.is_null(node)
        elif isinstance(node, (exp.Like, exp.ILike)):
            self.like(node)
        elif isinstance(node, exp.Anonymous) and str(node.this).lower() == GROUP_FUNCTION:
            self.group(node)
        else:
            raise self.not_allowed(node, "where a condition is expected")

    def not_allowed(self, node: exp.Expr, where: str = "") -> ConditionError:
        if isinstance(node, (exp.Select, exp.Subquery, exp.Query, exp.Exists)):
            start, end = self._query_span(node)
            return ConditionError("subqueries are not allowed in a condition", self.text, start, end)
        if isinstance(node, exp.Func):
            name = str(node.this) if isinstance(node, exp.Anonymous) else node.sql_name()
            allowed = ", ".join(sorted(ALLOWED_FUNCTIONS.values())) if self.allow_expressions else "none"
            return self.error(
                f"function {name.upper()} is not allowed here (allowed: {GROUP_FUNCTION}('group')"
                f"{'; in expressions: ' + allowed if self.allow_expressions else ''})",
                node,
            )
        if isinstance(node, _ARITHMETIC) and not self.allow_expressions:
            return self.error(
                "arithmetic is not allowed in an audience condition: compare a name with a value", node
            )
        what = f"'{self.snippet(node)}'" if self.snippet(node) else node.key.upper()
        return self.error(f"{what} is not allowed {where}".rstrip(), node)

    # -- names ------------------------------------------------------------------------------------
    def name(self, column: exp.Column) -> NameInfo:
        if column.table and (
            self.events is None or column.table.lower() != EVENT_TABLE or column.args.get("db")
        ):
            hint = " (event fields are event.<field>, in event rules)" if self.events is None else ""
            raise self.error(f"'{self.snippet(column)}': use a plain name, without a table{hint}", column)
        if column.table:
            return self.event_field(column)
        key = column.name.lower()
        info = self.catalogue.get(key)
        if info is None or info.kind == NameKind.GROUP:
            candidates = [k for k, v in self.catalogue.items() if v.kind != NameKind.GROUP]
            pool = {k: v.name for k, v in self.catalogue.items() if v.kind != NameKind.GROUP}
            if self.events is not None:  # `province` written for `event.province`
                for k, v in self.events.items():
                    candidates.append(k.removeprefix(f"{EVENT_TABLE}."))
                    pool.setdefault(k.removeprefix(f"{EVENT_TABLE}."), v.name)
            close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
            raise self.error(
                f"unknown name {key!r}",
                column,
                name=key,
                suggestion=pool[close[0]] if close else None,
            )
        self.names.add(info.name)
        return info

    def event_field(self, column: exp.Column) -> NameInfo:
        assert self.events is not None
        key = f"{EVENT_TABLE}.{column.name.lower()}"
        info = self.events.get(key)
        if info is None:
            close = difflib.get_close_matches(key, list(self.events), n=1, cutoff=0.6)
            raise self.error(
                f"unknown event field {key!r} for this event type",
                column,
                name=key,
                suggestion=self.events[close[0]].name if close else None,
            )
        self.event_fields.add(info.name)
        return info

    def group(self, node: exp.Anonymous) -> None:
        args = node.expressions
        if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise self.error(f"{GROUP_FUNCTION} takes one quoted group name: in_group('name')", node)
        key = str(args[0].this)
        info = self.catalogue.get(key.lower())
        if info is None or info.kind != NameKind.GROUP:
            candidates = [k for k, v in self.catalogue.items() if v.kind == NameKind.GROUP]
            close = difflib.get_close_matches(key.lower(), candidates, n=1, cutoff=0.6)
            raise self.error(
                f"unknown group {key!r}",
                args[0],
                name=key,
                suggestion=self.catalogue[close[0]].name if close else None,
            )
        args[0].set("this", info.name)
        self.groups.add(info.name)

    # -- values -----------------------------------------------------------------------------------
    def value(self, node: exp.Expr) -> tuple[str, NameInfo | None]:
        """The type of a value node: number / text / bool / date / null / enum, and its name if a name."""
        if isinstance(node, exp.Column):
            info = self.name(node)
            kind = {
                NameKind.FLAG: "bool",
                NameKind.ENUM: "enum",
                NameKind.NUMBER: "number",
                NameKind.TEXT: "text",
                NameKind.DATE: "date",
            }[info.kind]
            return kind, info
        if isinstance(node, exp.Literal):
            return ("text" if node.is_string else "number"), None
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
            return "number", None
        if isinstance(node, exp.Boolean):
            return "bool", None
        if isinstance(node, exp.Null):
            return "null", None
        if not self.allow_expressions:
            raise self.not_allowed(node, "in an audience condition: compare a name with a value")
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Neg):
            self.number(node.this)
            return "number", None
        if isinstance(node, _ARITHMETIC):
            self.number(node.this)
            self.number(node.expression)
            return "number", None
        if type(node) in ALLOWED_FUNCTIONS:
            args = [a for a in node.iter_expressions()]
            for a in args:
                self.number(a, allow_null=True)
            return "number", None
        raise self.not_allowed(node, "in a condition")

    def number(self, node: exp.Expr, allow_null: bool = False) -> None:
        kind, info = self.value(node)
        if kind == "number" or (allow_null and kind == "null"):
            return
        what = f"{info.name} is {_article(info.kind)} {info.kind.value}" if info else f"{kind} value"
        raise self.error(f"arithmetic needs numbers: {what}", node, name=info.name if info else None)

    def comparison(self, node: exp.Expr) -> None:
        left, right = node.this, node.expression
        op = _SQL_OPERATOR[type(node)]
        two_names = isinstance(left, exp.Column) and isinstance(right, exp.Column)
        if (
            not self.allow_expressions
            and not (two_names and self.events is not None)
            and (not isinstance(left, exp.Column) or not _is_literal(right))
        ):
            bad = right if isinstance(left, exp.Column) else left
            if two_names:
                raise self.error(
                    "comparing two names is not allowed in an audience condition: compare a name "
                    "with a value",
                    right,
                )
            raise self.not_allowed(bad, "in an audience condition: compare a name with a value")
        lk, linfo = self.value(left)
        rk, rinfo = self.value(right)
        if "null" in (lk, rk):
            null = left if lk == "null" else right
            raise self.error(f"'{op} NULL' is never true: use IS NULL / IS NOT NULL", null)
        self.compatible(left, lk, linfo, right, rk, rinfo, op)

    def compatible(
        self,
        left: exp.Expr,
        lk: str,
        linfo: NameInfo | None,
        right: exp.Expr,
        rk: str,
        rinfo: NameInfo | None,
        op: str,
    ) -> None:
        """Refuse comparisons whose sides cannot meaningfully be compared."""
        # Put the name (if any) on the left for the checks below.
        if linfo is None and rinfo is not None:
            left, lk, linfo, right, rk, rinfo = right, rk, rinfo, left, lk, linfo
        ordered = op not in ("=", "<>")
        if lk == "enum" and linfo is not None:
            if ordered:
                raise self.error(
                    f"{linfo.name} is an enum: its values have no order; use = or IN", right, name=linfo.name
                )
            if rk == "text" and isinstance(right, exp.Literal):
                self.enum_value(linfo, right)
                return
            if rk in ("enum", "text") and rinfo is not None:
                return
            raise self.type_error(linfo, right, rk)
        if lk == "bool":
            if ordered:
                raise self.error("a flag can only be compared with = or <>", right)
            if rk != "bool":
                raise self.type_error(linfo, right, rk)
            return
        if lk == "date":
            if rk == "date":
                return
            if rk == "text" and isinstance(right, exp.Literal):
                self.date_literal(right)
                return
            raise self.type_error(linfo, right, rk)
        if lk == "number" and rk != "number":
            raise self.type_error(linfo, right, rk)
        if lk == "text" and rk not in ("text", "enum"):
            raise self.type_error(linfo, right, rk)

    def type_error(self, info: NameInfo | None, node: exp.Expr, kind: str) -> ConditionError:
        if info is None:
            return self.error(f"cannot compare these values ({kind})", node)
        shown = self.snippet(node) or node.sql()
        return self.error(
            f"{shown} is {_article_str(kind)} {kind} value but {info.name} is {_article(info.kind)} "
            f"{info.kind.value}",
            node,
            name=info.name,
        )

    def enum_value(self, info: NameInfo, literal: exp.Literal) -> None:
        if info.values is not None and literal.this not in info.values:
            close = difflib.get_close_matches(str(literal.this), list(info.values), n=1, cutoff=0.5)
            raise self.error(
                f"{literal.this!r} is not a value of {info.name} (values: {', '.join(info.values)})",
                literal,
                name=info.name,
                suggestion=close[0] if close else None,
            )

    def date_literal(self, literal: exp.Literal) -> None:
        import datetime as dt

        value = str(literal.this)
        try:
            if not _DATE.match(value):
                raise ValueError
            dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(f"{value!r} is not a date: write 'YYYY-MM-DD'", literal) from None

    def between(self, node: exp.Between) -> None:
        this, low, high = node.this, node.args["low"], node.args["high"]
        if not self.allow_expressions:
            if not isinstance(this, exp.Column):
                raise self.not_allowed(this, "in an audience condition: BETWEEN needs a name on the left")
            for bound in (low, high):
                if not _is_literal(bound):
                    raise self.not_allowed(bound, "as a BETWEEN bound: use a value")
        kind, info = self.value(this)
        if kind in ("enum", "bool", "text") and info is not None:
            raise self.error(
                f"{info.name} is {_article(info.kind)} {info.kind.value}: BETWEEN needs a number or date",
                this,
            )
        for bound in (low, high):
            bk, binfo = self.value(bound)
            if bk == "null":
                raise self.error("BETWEEN bounds cannot be NULL", bound)
            self.compatible(this, kind, info, bound, bk, binfo, "<=")

    def in_list(self, node: exp.In) -> None:
        if node.args.get("query") is not None or node.args.get("unnest") is not None:
            raise self.not_allowed(node.args.get("query") or node)
        if node.args.get("field") is not None:
            raise self.not_allowed(node)
        this = node.this
        if not self.allow_expressions and not isinstance(this, exp.Column):
            raise self.not_allowed(this, "in an audience condition: IN needs a name on the left")
        kind, info = self.value(this)
        if not node.expressions:
            raise self.error("IN needs at least one value", node)
        for item in node.expressions:
            if not self.allow_expressions and not _is_literal(item):
                raise self.not_allowed(item, "in an IN list: use values")
            ik, iinfo = self.value(item)
            if ik == "null":
                raise self.error("NULL in an IN list never matches: use IS NULL", item)
            self.compatible(this, kind, info, item, ik, iinfo, "=")

    def is_null(self, node: exp.Is) -> None:
        this, target = node.this, node.expression
        if not self.allow_expressions and not isinstance(this, exp.Column):
            raise self.not_allowed(this, "in an audience condition: IS needs a name on the left")
        kind, _ = self.value(this)
        if isinstance(target, exp.Null):
            return
        if isinstance(target, exp.Boolean) and kind == "bool":
            return
        raise self.error("only IS [NOT] NULL (and IS [NOT] TRUE/FALSE on a flag) are allowed", target)

    def like(self, node: exp.Expr) -> None:
        this, pattern = node.this, node.expression
        if isinstance(pattern, exp.Escape) or node.args.get("escape") is not None:
            raise self.not_allowed(pattern, "(LIKE ... ESCAPE)")
        if not self.allow_expressions and not isinstance(this, exp.Column):
            raise self.not_allowed(this, "in an audience condition: LIKE needs a name on the left")
        kind, info = self.value(this)
        if kind not in ("text",):
            what = f"{info.name} is {_article(info.kind)} {info.kind.value}" if info else f"a {kind} value"
            raise self.error(f"LIKE works on text: {what}", this, name=info.name if info else None)
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise self.error("LIKE needs a quoted pattern such as 'abc%'", pattern)


def _is_literal(node: exp.Expr) -> bool:
    if isinstance(node, (exp.Literal, exp.Boolean, exp.Null)):
        return True
    return isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string


def _article(kind: NameKind) -> str:
    return _article_str(kind.value)


def _article_str(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _example(info: NameInfo) -> str:
    if info.kind == NameKind.NUMBER:
        return f"{info.name} > 0"
    if info.kind == NameKind.ENUM and info.values:
        return f"{info.name} = '{info.values[0]}'"
    if info.kind == NameKind.DATE:
        return f"{info.name} >= '2026-01-01'"
    return f"{info.name} IS NOT NULL"


def names_from_kinds(kinds: Mapping[str, NameKind | str]) -> dict[str, NameInfo]:
    """A quick catalogue for tests and tools: ``{"arpu": "number"}`` → ``{"arpu": NameInfo(...)}``."""
    return {n: NameInfo(n, NameKind(k)) for n, k in kinds.items()}
