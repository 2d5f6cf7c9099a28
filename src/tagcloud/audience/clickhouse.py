"""Audiences on ClickHouse: the same index as ClickHouse bitmap tables, the same plans as ClickHouse SQL.

Beyond one machine an operator keeps the audience index in a ClickHouse cluster and counts with its
bitmap functions. Nothing here re-parses a condition: the audience engine's parser, catalogue check
and planner (``AudienceEngine.plan``) give the plan, with the user's region scope ANDed in, and this
module writes the plan as one ClickHouse query — so a condition means the same on both engines
(tested on chDB, ClickHouse in process, against the in-process engine on generated conditions).

Tables, in ``database`` (``export_index`` writes them from an opened index):

* ``bitmaps (key, bm AggregateFunction(groupBitmap, UInt32))`` — every stored bitmap of the index
  under its key: flags (``is_student``), enum values (``brand=mzone``), null sets (``arpu:null``)
  and ``_alive``; the shards' bitmaps of one key are merged into one row.
* ``codes (column, code, id)`` ordered by ``(column, code)`` — the bit-sliced numbers and dates as
  their codes, so a range is a primary-key range: ``groupBitmapState(id) … code BETWEEN a AND b``.
* ``groups (name, bm)`` — saved groups a condition names, loaded on first use.

Three-valued logic is the planner's (``plan.ShardRun``): each node gives the ids where it is TRUE
and, where a ``NOT`` above needs them, where it is UNKNOWN. Shared sub-expressions become ``WITH``
aliases, so the query grows linearly with the condition; every bitmap, range and group it reads
comes from one pass over its table (scalar subqueries per bitmap were 10× slower on chDB).

Runners: ``ChdbRunner`` (chDB, from PyPI) and ``ServerRunner`` (a ClickHouse server through
clickhouse-connect); both run SQL and load Arrow tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tagcloud.audience import bsi as bsi_mod
from tagcloud.audience.index import AudienceIndex
from tagcloud.audience.plan import And, AnyOf, Const, Group, Node, Not, Or, Range, Stored

if TYPE_CHECKING:
    import pyarrow as pa
    from pyroaring import BitMap

    from tagcloud.audience.query import AudienceEngine

EMPTY = "bitmapBuild(CAST([] AS Array(UInt32)))"
BATCH_KEYS = 64  # bitmaps per load: bounded memory for the id lists in flight


class Runner(Protocol):
    """What this module needs of a ClickHouse connection."""

    def execute(self, sql: str) -> None: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def load(self, table: str, data: pa.Table) -> None:
        """Append ``data`` to ``table`` (columns by name)."""
        ...


class ChdbRunner:
    """ClickHouse in process (chDB): a session, in memory or kept in ``path``."""

    def __init__(self, path: str | None = None) -> None:
        from chdb import session

        self.session = session.Session(path) if path else session.Session()

    def execute(self, sql: str) -> None:
        self.session.query(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        import pyarrow as pa

        res = self.session.query(sql, "ArrowStream")
        table = pa.ipc.open_stream(res.bytes()).read_all() if res.bytes() else pa.table({})
        return [tuple(r.values()) for r in table.to_pylist()]

    def load(self, table: str, data: pa.Table) -> None:
        cols = ", ".join(f"`{c}`" for c in data.column_names)
        # chDB reads the Arrow table in place through its Python() table function
        self.session.query(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM Python(data)")

    def close(self) -> None:
        self.session.close()


class ServerRunner:
    """A ClickHouse server through clickhouse-connect (``host``, ``port`` of its HTTP interface)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8123, **kwargs: Any) -> None:
        import clickhouse_connect

        self.client = clickhouse_connect.get_client(host=host, port=port, **kwargs)

    def execute(self, sql: str) -> None:
        self.client.command(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.client.query(sql).result_rows]

    def load(self, table: str, data: pa.Table) -> None:
        self.client.insert_arrow(table, data)

    def close(self) -> None:
        self.client.close()


def quote(text: str) -> str:
    """A ClickHouse string literal (backslash escapes), for index keys and group names."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class ExportStats:
    bitmaps: int
    codes: int
    numeric_columns: int


def export_index(index: AudienceIndex, runner: Runner, database: str = "tagcloud") -> ExportStats:
    """Write ``index`` into ``database`` (its tables are replaced): every stored bitmap, merged across
    shards, and every bit-sliced column as (column, code, id) rows."""
    import pyarrow as pa

    db = _ident(database)
    runner.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    for t in ("bitmaps", "bitmap_parts", "bitmap_stage", "codes", "groups"):
        runner.execute(f"DROP TABLE IF EXISTS {db}.{t}")
    runner.execute(f"CREATE TABLE {db}.bitmap_stage (key String, ids Array(UInt32)) ENGINE = Memory")
    runner.execute(
        f"CREATE TABLE {db}.bitmap_parts (key String, bm AggregateFunction(groupBitmap, UInt32)) "
        "ENGINE = MergeTree ORDER BY key"
    )
    runner.execute(
        f"CREATE TABLE {db}.codes (column LowCardinality(String), code UInt64, id UInt32) "
        "ENGINE = MergeTree ORDER BY (column, code)"
    )
    runner.execute(
        f"CREATE TABLE {db}.groups (name String, bm AggregateFunction(groupBitmap, UInt32)) "
        "ENGINE = MergeTree ORDER BY name"
    )
    numeric = [n for n, c in index.columns.items() if c["kind"] in ("number", "date")]
    n_codes = 0
    for shard in index.shards:
        keys = shard.stored_keys()
        for i in range(0, len(keys), BATCH_KEYS):
            batch = keys[i : i + BATCH_KEYS]
            ids = [np.asarray(shard.bitmap(k).to_array(), dtype=np.uint32) for k in batch]
            runner.load(
                f"{db}.bitmap_stage",
                pa.table({"key": pa.array(batch), "ids": pa.array(ids, type=pa.list_(pa.uint32()))}),
            )
            runner.execute(
                f"INSERT INTO {db}.bitmap_parts SELECT key, bitmapBuild(ids) FROM {db}.bitmap_stage"
            )
            runner.execute(f"TRUNCATE TABLE {db}.bitmap_stage")
            for k in batch:
                shard.forget(k)
        local = np.arange(shard.hi - shard.lo, dtype=np.int64)
        for name in numeric:
            codes, has = bsi_mod.decode(shard.slices(name), local)
            ids = (local[has] + shard.lo).astype(np.uint32)
            n_codes += len(ids)
            runner.load(
                f"{db}.codes",
                pa.table(
                    {
                        "column": pa.array([name] * len(ids), pa.string()),
                        "code": pa.array(codes[has], pa.uint64()),
                        "id": pa.array(ids, pa.uint32()),
                    }
                ),
            )
    runner.execute(
        f"CREATE TABLE {db}.bitmaps (key String, bm AggregateFunction(groupBitmap, UInt32)) "
        "ENGINE = MergeTree ORDER BY key"
    )
    runner.execute(
        f"INSERT INTO {db}.bitmaps SELECT key, groupBitmapMergeState(bm) FROM {db}.bitmap_parts GROUP BY key"
    )
    runner.execute(f"DROP TABLE {db}.bitmap_parts")
    runner.execute(f"DROP TABLE {db}.bitmap_stage")
    (n_bitmaps,) = runner.rows(f"SELECT count() FROM {db}.bitmaps")[0]
    return ExportStats(int(n_bitmaps), n_codes, len(numeric))


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"ClickHouse database name {name!r}: letters, digits and _ only")
    return name


@dataclass
class _Query:
    """One plan as one ClickHouse query: every stored bitmap, range and group it reads is fetched in
    one pass over its table (``-If`` aggregate combinators into one row), and every sub-expression
    is a ``WITH`` alias written once."""

    db: str
    keys: dict[str, str] = field(default_factory=dict)  # bitmap key → column alias
    ranges: dict[tuple[str, int, int], str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # group SQL name → column alias
    aliases: dict[str, str] = field(default_factory=dict)  # expression → alias

    def name(self, expr: str) -> str:
        alias = self.aliases.get(expr)
        if alias is None:
            alias = self.aliases[expr] = f"e{len(self.aliases)}"
        return alias

    def stored(self, key: str) -> str:
        return self.keys.setdefault(key, f"s{len(self.keys)}")

    def range(self, column: str, a: int, b: int) -> str:
        return self.ranges.setdefault((column, a, b), f"r{len(self.ranges)}")

    def group(self, name: str) -> str:
        return self.groups.setdefault(name, f"g{len(self.groups)}")

    def alive(self) -> str:
        return self.stored("_alive")

    def sql(self, result: str) -> str:
        sources = []
        if self.keys:
            cols = ", ".join(
                f"groupBitmapMergeStateIf(bm, key = {quote(k)}) AS {a}" for k, a in self.keys.items()
            )
            keys = ", ".join(quote(k) for k in self.keys)
            sources.append(f"(SELECT {cols} FROM {self.db}.bitmaps WHERE key IN ({keys})) AS _stored")
        if self.ranges:
            cols = ", ".join(
                f"groupBitmapStateIf(id, column = {quote(c)} AND code BETWEEN {a} AND {b}) AS {alias}"
                for (c, a, b), alias in self.ranges.items()
            )
            names = ", ".join(sorted({quote(c) for c, _, _ in self.ranges}))
            sources.append(f"(SELECT {cols} FROM {self.db}.codes WHERE column IN ({names})) AS _ranges")
        if self.groups:
            cols = ", ".join(
                f"groupBitmapMergeStateIf(bm, name = {quote(n)}) AS {a}" for n, a in self.groups.items()
            )
            names = ", ".join(quote(n) for n in self.groups)
            sources.append(f"(SELECT {cols} FROM {self.db}.groups WHERE name IN ({names})) AS _groups")
        withs = ",\n     ".join(f"{e} AS {a}" for e, a in self.aliases.items())
        out = (f"WITH {withs}\n" if withs else "") + f"SELECT {result}"
        return out + ("\nFROM " + "\nCROSS JOIN ".join(sources) if sources else "")

    def fold(self, fn: str, parts: list[str]) -> str:
        if not parts:
            return EMPTY
        acc = parts[0]
        for p in parts[1:]:
            acc = self.name(f"{fn}({acc}, {p})")
        return acc


def compile_plan(node: Node, database: str = "tagcloud", *, group_sql: Any = None) -> tuple[_Query, str]:
    """A plan → (its ``WITH`` aliases, the alias of the bitmap of ids where it is TRUE)."""
    q = _Query(_ident(database))
    t, _ = _bitmaps(q, node, need_unknown=False, group_sql=group_sql)
    return q, t


def _bitmaps(q: _Query, node: Node, need_unknown: bool, group_sql: Any) -> tuple[str, str | None]:
    """(TRUE bitmap expression, UNKNOWN bitmap expression or None when not wanted or known empty)."""
    if isinstance(node, Stored):
        return q.stored(node.key), q.stored(node.nulls) if need_unknown and node.nulls else None
    if isinstance(node, AnyOf):
        t = q.fold("bitmapOr", [q.stored(k) for k in node.keys])
        return t, q.stored(node.nulls) if need_unknown and node.nulls else None
    if isinstance(node, Range):
        if node.interval is None:
            t = EMPTY
        else:
            t = q.range(node.column, int(node.interval[0]), int(node.interval[1]))
        return t, q.stored(node.nulls) if need_unknown and node.nulls else None
    if isinstance(node, Group):
        if group_sql is None:
            raise ValueError(f"saved group {node.name!r}: no group loader for ClickHouse")
        return q.name(f"bitmapAnd({q.group(group_sql(node))}, {q.alive()})"), None
    if isinstance(node, Const):
        if node.value is None:
            return EMPTY, q.alive()
        return (q.alive() if node.value else EMPTY), None
    if isinstance(node, Not):
        t, u = _bitmaps(q, node.child, True, group_sql)
        out = q.name(f"bitmapAndnot({q.alive()}, {t})")
        if u is not None:
            out = q.name(f"bitmapAndnot({out}, {u})")
        return out, u
    if isinstance(node, And):
        if need_unknown:
            parts = [_bitmaps(q, c, True, group_sql) for c in node.children]
            t = q.fold("bitmapAnd", [p[0] for p in parts])
            if all(p[1] is None for p in parts):
                return t, None
            tu = q.fold("bitmapAnd", [q.name(f"bitmapOr({p[0]}, {p[1]})") if p[1] else p[0] for p in parts])
            return t, q.name(f"bitmapAndnot({tu}, {t})")
        # TRUE only: positive operands intersected, NOT operands as differences (as the engine does)
        pos = [c for c in node.children if not isinstance(c, Not)]
        neg = [c for c in node.children if isinstance(c, Not)]
        acc = q.fold("bitmapAnd", [_bitmaps(q, c, False, group_sql)[0] for c in pos]) if pos else q.alive()
        for c in neg:
            assert isinstance(c, Not)
            t, u = _bitmaps(q, c.child, True, group_sql)
            acc = q.name(f"bitmapAndnot({acc}, {t})")
            if u is not None:
                acc = q.name(f"bitmapAndnot({acc}, {u})")
        return acc, None
    if isinstance(node, Or):
        parts = [_bitmaps(q, c, need_unknown, group_sql) for c in node.children]
        t = q.fold("bitmapOr", [p[0] for p in parts])
        us = [p[1] for p in parts if p[1] is not None]
        return t, (q.name(f"bitmapAndnot({q.fold('bitmapOr', us)}, {t})") if us else None)
    raise TypeError(f"unknown plan node {node!r}")


class ClickHouseAudience:
    """Counts and members of conditions on ClickHouse, for one engine's user (names, scope)."""

    def __init__(self, engine: AudienceEngine, runner: Runner, database: str = "tagcloud") -> None:
        self.engine, self.runner, self.database = engine, runner, _ident(database)
        self._groups: set[str] = set()

    def _group_sql(self, node: Group) -> str:
        """The name under which ``node``'s members are in the groups table (loaded on first use)."""
        import pyarrow as pa
        from pyroaring import FrozenBitMap

        name = f"{node.name}:{hashlib.sha1(node.members).hexdigest()[:16]}"
        if name not in self._groups:
            ids = np.asarray(FrozenBitMap.deserialize(node.members).to_array(), dtype=np.uint32)
            stage = f"{self.database}.group_stage"
            self.runner.execute(
                f"CREATE TABLE IF NOT EXISTS {stage} (name String, ids Array(UInt32)) ENGINE = Memory"
            )
            self.runner.load(stage, pa.table({"name": [name], "ids": pa.array([ids], pa.list_(pa.uint32()))}))
            self.runner.execute(
                f"INSERT INTO {self.database}.groups SELECT name, bitmapBuild(ids) FROM {stage}"
            )
            self.runner.execute(f"TRUNCATE TABLE {stage}")
            self._groups.add(name)
        return name

    def sql(self, condition: str, what: str = "count") -> str:
        """The ClickHouse query for ``condition`` (``what`` = count | members)."""
        q, t = compile_plan(self.engine.plan(condition), self.database, group_sql=self._group_sql)
        return q.sql(f"bitmapCardinality({t})" if what == "count" else f"bitmapToArray({t})")

    def count(self, condition: str) -> int:
        return int(self.runner.rows(self.sql(condition))[0][0])

    def members(self, condition: str) -> BitMap:
        from pyroaring import BitMap

        return BitMap(self.runner.rows(self.sql(condition, "members"))[0][0])
