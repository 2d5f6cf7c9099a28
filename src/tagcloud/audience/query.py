"""The audience engine's Python API: count, members, list, sample, profile, split and lookup.

>>> eng = AudienceEngine.open()                       # the current index of the warehouse
>>> eng.count("arpu >= 80 AND is_student AND NOT complaint_sensitive")
>>> eng.profile("brand = 'gotone'", columns=["arpu", "prod_0000"])   # a Polars DataFrame

Answers are Polars DataFrames (``.to_arrow()`` for Arrow). Numbers are masked ``136****6297``
unless the engine was opened with ``can_unmask=True`` (the web layer decides that from roles).
``scope`` (a condition, e.g. a county marketer's ``county_id = 'C01K02'``) is ANDed into every query.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.audience import bsi as bsi_mod
from tagcloud.audience.dictionary import mask_number, mask_numbers, parse_number
from tagcloud.audience.index import AudienceIndex, null_key, value_key
from tagcloud.audience.paths import warehouse_root
from tagcloud.audience.plan import And, Compiler, Node, ShardRun, describe
from tagcloud.audience.roaring import bitmap_to_words

if TYPE_CHECKING:
    from collections.abc import Mapping

    import polars as pl
    from pyroaring import BitMap

    from tagcloud.audience.parallel import ShardPool
    from tagcloud.tags.condition import Condition, NameInfo


class OutOfScope(KeyError):
    """A reverse lookup of a subscriber outside the engine's region scope (refused)."""


def parse(text: str, names: Mapping[str, NameInfo]) -> Condition:
    """Condition text → checked :class:`Condition` of the one condition language (``tagcloud.tags``)."""
    from tagcloud.tags.condition import parse_condition

    return parse_condition(text, names)


@dataclass
class AudienceEngine:
    """An opened index plus who is asking (may they see whole numbers; their region scope)."""

    index: AudienceIndex
    warehouse: Path
    can_unmask: bool = False
    scope: str | None = None
    _names: dict[str, NameInfo] | None = field(default=None, repr=False)
    _readers: dict[int, Any] = field(default_factory=dict, repr=False)
    pool: ShardPool | None = field(default=None, repr=False)  # answer shards in worker processes

    @classmethod
    def open(
        cls,
        warehouse: Path | str | None = None,
        *,
        build_id: str | None = None,
        can_unmask: bool = False,
        scope: str | None = None,
    ) -> AudienceEngine:
        wh = warehouse_root(warehouse)
        return cls(AudienceIndex.open(wh, build_id), wh, can_unmask, scope)

    # -- conditions

    def names(self, with_groups: bool = True) -> dict[str, NameInfo]:
        """The names a condition may use: the index's attributes and tags, and the saved groups."""
        from tagcloud.audience.paths import groups_root
        from tagcloud.tags.condition import NameInfo, NameKind

        if self._names is None:
            self._names = {
                # region codes are an open set: a county without subscribers in this build is valid
                n: NameInfo(
                    n,
                    NameKind(c["kind"]),
                    tuple(c["values"]) if c["kind"] == "enum" and c.get("category") != "region" else None,
                )
                for n, c in self.index.columns.items()
            }
        if not with_groups:
            return self._names
        out = dict(self._names)
        for p in groups_root(self.warehouse).glob("*/group.json"):
            out.setdefault(p.parent.name, NameInfo(p.parent.name, NameKind.GROUP))
        return out

    def plan(self, condition: str) -> Node:
        """Condition text → bitmap plan (with the engine's scope ANDed in)."""
        from tagcloud.audience.stored import group_members

        compiler = Compiler(self.index, lambda name: group_members(self.warehouse, name, self.index))
        # listing saved groups touches the disk: only when the condition names one
        node = compiler.compile(parse(condition, self.names("in_group" in condition.lower())).tree)
        if self.scope:
            s = compiler.compile(parse(self.scope, self.names(False)).tree)
            node = And((*(node.children if isinstance(node, And) else (node,)), s), min(node.est, s.est))
        return node

    def explain(self, condition: str) -> str:
        return describe(self.plan(condition))

    # -- answers

    def count(self, condition: str) -> int:
        """Number of subscribers matching ``condition`` (count-only plan, no member list built)."""
        node = self.plan(condition)
        if self.pool is not None:
            return self.pool.count(node)
        return sum(ShardRun(s).count(node) for s in self.index.shards)

    def members(self, condition: str) -> BitMap:
        """Ids of the matching subscribers as one Roaring bitmap (ids of this index build)."""
        from pyroaring import BitMap

        node = self.plan(condition)
        if self.pool is not None:
            return self.pool.members(node)
        return BitMap(BitMap.union(*(ShardRun(s).truth(node) for s in self.index.shards)))

    def audience(self, target: str | BitMap) -> BitMap:
        """A condition or an already computed member bitmap → member bitmap."""
        return self.members(target) if isinstance(target, str) else target

    def numbers(self, ids: np.ndarray) -> list[str]:
        """Ids → numbers as text, masked unless this engine may unmask."""
        nums = np.asarray(self.index.dictionary.msisdn_by_id[ids])
        if self.can_unmask:
            return [str(int(x)) for x in nums]
        return mask_numbers(nums)

    def list_members(
        self, target: str | BitMap, offset: int = 0, limit: int = 100, columns: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        """One page of members in id order: number (masked unless allowed), region and ``columns``."""
        import polars as pl

        if offset < 0 or limit < 0:
            raise ValueError(f"list: offset {offset} and limit {limit} must not be negative")
        bm = self.audience(target)
        ids = (
            np.frombuffer(bm[offset : offset + limit].to_array(), dtype=np.uint32)
            if len(bm) > offset
            else np.zeros(0, np.uint32)
        )
        return pl.DataFrame(self._rows(ids, ("city_id", "county_id", "township_id", *columns)))

    def sample(
        self, target: str | BitMap, n: int = 10, seed: int = 0, columns: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        """``n`` members drawn at random (reproducible with ``seed``)."""
        import polars as pl

        bm = self.audience(target)
        ids = np.frombuffer(bm.to_array(), dtype=np.uint32)
        pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=min(n, len(ids)), replace=False))
        return pl.DataFrame(self._rows(ids[pick], ("city_id", "county_id", "township_id", *columns)))

    def _rows(self, ids: np.ndarray, columns: tuple[str, ...]) -> dict[str, Any]:
        """Column values for a handful of ids (a page, a sample), column by column."""
        from pyroaring import BitMap

        page = BitMap(ids)
        out: dict[str, Any] = {"msisdn": self.numbers(ids)}
        for name in columns:
            col = self.index.column(name)
            kind = col["kind"]
            if kind == "flag":
                vals: Any = np.zeros(len(ids), dtype=object)
                vals[:] = False
                for key, v in ((name, True), (null_key(name), None)):
                    hit = np.frombuffer(self._union(key, page).to_array(), dtype=np.uint32)
                    vals[np.isin(ids, hit)] = v
                out[name] = vals.tolist()
            elif kind == "enum":
                vals = np.full(len(ids), None, dtype=object)
                for v in col["counts"]:
                    hit = np.frombuffer(self._union(value_key(name, v), page).to_array(), dtype=np.uint32)
                    vals[np.isin(ids, hit)] = v
                out[name] = vals.tolist()
            else:
                out[name] = self._decode(name, ids).tolist()
        return out

    def _union(self, key: str, page: BitMap) -> BitMap:
        from pyroaring import BitMap

        return BitMap.union(BitMap(), *(s.bitmap(key) & page for s in self.index.shards))

    def _decode(self, name: str, ids: np.ndarray, raw: bool = False) -> np.ndarray:
        """Values of sorted ids (None where missing) from the bit-sliced index; dates as
        ``datetime.date`` unless ``raw`` (days since 1970-01-01)."""
        spec = self.index.bsi_spec(name)
        out = np.full(len(ids), None, dtype=object)
        for s in self.index.shards:
            sel = np.flatnonzero((ids >= s.lo) & (ids < s.hi))
            if not len(sel):
                continue
            codes, has = bsi_mod.decode(s.slices(name), ids[sel].astype(np.int64) - s.lo)
            vals = bsi_mod.to_values(spec, s.distinct(name), codes)
            out[sel[has]] = vals[has]
        if not raw and self.index.column(name)["kind"] == "date":
            epoch = np.datetime64("1970-01-01", "D")
            out = np.array([None if v is None else (epoch + int(v)).item() for v in out], dtype=object)
        return out

    def warm(self) -> None:
        """Load every bitmap and read the row store and bit slices once, so that a lookup service
        answers from memory instead of faulting pages in (the p99 of a cold lookup is disk time)."""
        from tagcloud.audience.lookup import ShardReader

        for k, shard in enumerate(self.index.shards):
            shard.warm()
            self._readers.setdefault(k, ShardReader(self.index, shard))
        for p in [*self.index.folder.glob("lookup/*.npy"), *self.index.folder.glob("shard-*/bsi/*.npy")]:
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass

    def lookup(self, msisdn: str) -> dict[str, Any]:
        """Reverse query (反向查询): every tag and attribute of one subscriber.

        ValueError for a malformed number, KeyError for a number not in the index, and
        :class:`OutOfScope` (a KeyError, so callers that do not tell them apart answer both alike:
        no probing) for a subscriber outside the engine's ``scope``."""
        from tagcloud.audience.lookup import ShardReader

        i = self.index.dictionary.id_of(msisdn)
        k = next(k for k, s in enumerate(self.index.shards) if s.lo <= i < s.hi)
        if self.scope and not self._in_scope(i, k):
            raise OutOfScope(f"{mask_number(msisdn)}: outside the scope {self.scope}")
        reader = self._readers.get(k)
        if reader is None:
            reader = self._readers[k] = ShardReader(self.index, self.index.shards[k])
        out: dict[str, Any] = {
            "msisdn": str(int(parse_number(msisdn))) if self.can_unmask else mask_number(msisdn),
            "build_id": self.index.build_id,
        }
        out.update(reader.read(i))
        return out

    def _in_scope(self, i: int, k: int) -> bool:
        """Is id ``i`` (in shard ``k``) inside the engine's scope? One shard's scope bitmap."""
        assert self.scope is not None
        compiler = Compiler(self.index)  # a scope names region columns, never saved groups
        node = compiler.compile(parse(self.scope, self.names(False)).tree)
        return i in ShardRun(self.index.shards[k]).truth(node)

    # -- profile and split

    def profile(self, target: str | BitMap, columns: list[str] | None = None) -> pl.DataFrame:
        """Distribution of ``columns`` (default: all) inside the audience, one row per tag / value.

        Columns of the answer: column, kind, category, value, members, share (of the audience),
        sum and mean (numbers). Product flags (category ``product``) give product penetration; the
        row ``(no product)`` is the share holding none of them.
        """
        import polars as pl
        from pyroaring import BitMap

        bm = self.audience(target)
        total = len(bm)
        names = columns if columns is not None else list(self.index.columns)
        parts = [bm & s.bitmap("_alive") for s in self.index.shards]
        dense: list[np.ndarray | None] = [None] * len(self.index.shards)
        rows: list[dict[str, Any]] = []

        def row(name: str, col: dict[str, Any], value: str | None, n: int, **kw: Any) -> None:
            rows.append(
                {
                    "column": name,
                    "kind": col["kind"],
                    "category": col.get("category"),
                    "value": value,
                    "members": n,
                    "share": n / total if total else 0.0,
                    "sum": None,
                    "mean": None,
                }
                | kw
            )

        for name in names:
            col = self.index.column(name)
            kind = col["kind"]
            if kind == "flag":
                n = sum(
                    p.intersection_cardinality(s.bitmap(name))
                    for p, s in zip(parts, self.index.shards, strict=True)
                )
                row(name, col, "true", n)
            elif kind == "enum":
                for v in col["counts"]:
                    key = value_key(name, v)
                    n = sum(
                        p.intersection_cardinality(s.bitmap(key))
                        for p, s in zip(parts, self.index.shards, strict=True)
                    )
                    row(name, col, v, n)
                if col["nulls"]:
                    key = null_key(name)
                    n = sum(
                        p.intersection_cardinality(s.bitmap(key))
                        for p, s in zip(parts, self.index.shards, strict=True)
                    )
                    row(name, col, None, n)
            else:
                spec = self.index.bsi_spec(name)
                count, total_value = 0, 0.0
                for k, (p, s) in enumerate(zip(parts, self.index.shards, strict=True)):
                    if not p:
                        continue
                    if spec.encoding == "fixed":
                        if dense[k] is None:
                            dense[k] = bitmap_to_words(p, s.lo, s.n_words)
                        c, code_total = bsi_mod.code_sum(s.slices(name), dense[k])  # type: ignore[arg-type]
                        count += c
                        total_value += (code_total + spec.offset * c) / 10**spec.scale
                    else:
                        ids = np.frombuffer(p.to_array(), dtype=np.uint32).astype(np.int64) - s.lo
                        codes, has = bsi_mod.decode(s.slices(name), ids)
                        count += int(has.sum())
                        total_value += float(bsi_mod.to_values(spec, s.distinct(name), codes[has]).sum())
                if kind == "date":  # a sum of days means nothing; the count of members with a date does
                    row(name, col, None, count)
                else:
                    row(name, col, None, count, sum=total_value, mean=total_value / count if count else None)
        products = [
            n
            for n in names
            if self.index.columns[n]["kind"] == "flag" and self.index.columns[n].get("category") == "product"
        ]
        if products:
            held = BitMap.union(*(s.bitmap(n) for s in self.index.shards for n in products))
            none = total - bm.intersection_cardinality(held)
            rows.append(
                {
                    "column": "(no product)",
                    "kind": "flag",
                    "category": "product",
                    "value": "true",
                    "members": none,
                    "share": none / total if total else 0.0,
                    "sum": None,
                    "mean": None,
                }
            )
        schema = {
            "column": pl.String,
            "kind": pl.String,
            "category": pl.String,
            "value": pl.String,
            "members": pl.Int64,
            "share": pl.Float64,
            "sum": pl.Float64,
            "mean": pl.Float64,
        }
        return pl.DataFrame(rows, schema=schema)

    def split(
        self,
        target: str | BitMap,
        by: str,
        edges: list[float] | None = None,
        tiers: int | None = None,
    ) -> pl.DataFrame:
        """Split the audience by tiers of a number (``edges`` or ``tiers`` quantiles) or by an enum.

        Tiers are ``by < e1``, ``e1 <= by < e2`` … ``by >= ek`` and ``by IS NULL``; each row carries
        its tier's condition text so it can be ANDed with the audience and saved as a sub-group.
        """
        import polars as pl

        col = self.index.column(by)
        bm = self.audience(target)
        total = len(bm)
        conds: list[str] = []
        if col["kind"] == "enum":
            conds = [f"{by} = '{v}'" for v in col["counts"]]
        elif col["kind"] == "number":
            if edges is None:
                if not tiers or tiers < 2:
                    raise ValueError(f"split by {by}: give edges or a number of tiers ≥ 2")
                ids = np.frombuffer(bm.to_array(), dtype=np.uint32)
                vals = np.array([v for v in self._decode(by, ids, raw=True) if v is not None], dtype=float)
                if not len(vals):
                    raise ValueError(f"split by {by}: no member has a value")
                edges = sorted(set(np.quantile(vals, np.arange(1, tiers) / tiers).round(6).tolist()))
            edges = sorted(edges)
            conds = [f"{by} < {_num(edges[0])}"]
            conds += [f"{by} >= {_num(a)} AND {by} < {_num(b)}" for a, b in itertools.pairwise(edges)]
            conds += [f"{by} >= {_num(edges[-1])}"]
        else:
            raise ValueError(f"split by {by}: a {col['kind']} cannot be split; use a number or an enum")
        if col["nulls"]:
            conds.append(f"{by} IS NULL")
        compiler = Compiler(self.index)
        names = self.names(False)
        rows = []
        for cond in conds:
            node = compiler.compile(parse(cond, names).tree)
            n = sum(bm.intersection_cardinality(ShardRun(s).truth(node)) for s in self.index.shards)
            rows.append({"tier": cond, "members": n, "share": n / total if total else 0.0})
        return pl.DataFrame(rows, schema={"tier": pl.String, "members": pl.Int64, "share": pl.Float64})


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))
