"""Rule matching over micro-batches (规则匹配): events × subscriber attributes → candidate rules.

The hot path is columnar. A batch is split by event type (one numpy pass); for each type, the
fields its rules name become columns, the subscribers' attributes are gathered by row (one
``searchsorted`` over the sorted msisdn column, one take per attribute), and every rule's condition
runs as a vectorised predicate (:mod:`tagcloud.tags.vector`) with its time window and validity
dates as two more masks. What comes out is, per event, the rules it matched in priority order;
only those events go on to the (per-contact, transactional) decision stage.

Subscriber attributes come from the tag library's published wide table
(:meth:`SubscriberTable.from_warehouse`: the columns the rules name, loaded once) or from any Arrow
table with an ``msisdn`` column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.realtime.events import COMMON_FIELDS, EVENT_FIELDS, Event, EventType, event_names
from tagcloud.realtime.rulestore import ActiveRule
from tagcloud.tags.condition import NameInfo, NameKind, parse_condition
from tagcloud.tags.vector import Column, Predicate, compile_predicate

if TYPE_CHECKING:
    import pyarrow as pa

TYPE_CODES = {t: i for i, t in enumerate(EventType)}
TYPES = list(EventType)


def _column(values: Sequence[Any], kind: NameKind) -> Column:
    """A Python list (None = NULL) as a typed numpy column with its NULL mask (None: no NULLs)."""
    nulls = np.fromiter((v is None for v in values), bool, len(values))
    has_null = bool(nulls.any())
    if kind == NameKind.NUMBER:
        arr = np.array([np.nan if v is None else v for v in values] if has_null else values, dtype=np.float64)
    elif kind == NameKind.FLAG:
        arr = np.array([False if v is None else v for v in values] if has_null else values, dtype=bool)
    elif kind == NameKind.DATE:
        arr = np.array(["NaT" if v is None else str(v) for v in values], dtype="datetime64[D]")
    else:
        arr = np.array(["" if v is None else v for v in values] if has_null else values, dtype=str)
        if arr.dtype.kind != "U":
            arr = arr.astype(str)
    return arr, nulls if has_null else None


def _arrow_column(col: pa.ChunkedArray, kind: NameKind) -> Column:
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    nulls = col.is_null().to_numpy(zero_copy_only=False) if col.null_count else None
    if kind == NameKind.NUMBER:
        return pc.cast(col, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False), nulls
    if kind == NameKind.FLAG:
        return pc.cast(col, pa.bool_()).fill_null(False).to_numpy(zero_copy_only=False), nulls
    if kind == NameKind.DATE:
        return pc.cast(col, pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]"), nulls
    return np.array(pc.cast(col, pa.string()).fill_null("").to_pylist(), dtype=str), nulls


@dataclass
class SubscriberTable:
    """Subscribers' attributes as columns, sorted by msisdn (int64) for vectorised row lookup."""

    msisdn: np.ndarray  # int64, sorted
    columns: dict[str, Column]
    names: dict[str, NameInfo]

    @classmethod
    def from_arrow(cls, table: pa.Table, names: Mapping[str, NameInfo]) -> SubscriberTable:
        """``table``: an ``msisdn`` column plus attribute columns named in ``names`` (others ignored)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        ms = pc.cast(table.column("msisdn"), pa.int64()).to_numpy()
        order = np.argsort(ms, kind="stable")
        cols = {}
        for n in table.column_names:
            if n != "msisdn" and n in names:
                v, nulls = _arrow_column(table.column(n), names[n].kind)
                cols[n] = (v[order], None if nulls is None else nulls[order])
        return cls(ms[order], cols, {n: names[n] for n in cols})

    @classmethod
    def from_warehouse(cls, warehouse: Path | str, columns: Iterable[str] | None = None) -> SubscriberTable:
        """The published wide table's ``columns`` (default: all) for every subscriber."""
        import duckdb

        from tagcloud.tags import current_names

        names = current_names(warehouse)
        root = Path(warehouse) / "wide" / "current"
        want = sorted(set(columns) if columns is not None else set(names))
        unknown = [c for c in want if c not in names]
        if unknown:
            raise KeyError(f"the wide table at {root} has no column(s) {', '.join(unknown)}")
        con = duckdb.connect()
        files = [str(p) for p in sorted(root.glob("*.parquet"))]
        rel = con.read_parquet(files)
        have = set(rel.columns)
        sel = ["msisdn", *[c for c in want if c in have]]
        table = rel.select(*[f'"{c}"' for c in sel]).to_arrow_table()
        return cls.from_arrow(table, names)

    @classmethod
    def from_export(cls, export: Path | str) -> SubscriberTable:
        """Operator data of a raw export (no tag build needed; demos and tests): ``brand``,
        ``payment_type``, ``age_band``, ``city_id`` (home region) and ``arpu`` (mean of the bills)."""
        import duckdb

        root = Path(export)
        if not (root / "subscribers").is_dir():
            raise FileNotFoundError(
                f"{root} has no subscribers/ folder: not an export of the canonical model"
            )
        t = (
            duckdb.connect()
            .sql(
                "SELECT s.msisdn, s.brand, s.payment_type, s.age_band, s.home_region_id AS city_id, b.arpu "
                "FROM read_parquet($subs) s LEFT JOIN (SELECT msisdn, avg(arpu)::DOUBLE AS arpu "
                "FROM read_parquet($bills) GROUP BY 1) b USING (msisdn)",
                params={
                    "subs": f"{root}/subscribers/**/*.parquet",
                    "bills": f"{root}/billing_monthly/**/*.parquet",
                },
            )
            .to_arrow_table()
        )
        names = {
            "brand": NameInfo("brand", NameKind.ENUM, ("gotone", "mzone", "easyown")),
            "payment_type": NameInfo("payment_type", NameKind.TEXT),
            "age_band": NameInfo("age_band", NameKind.TEXT),
            "city_id": NameInfo("city_id", NameKind.TEXT),
            "arpu": NameInfo("arpu", NameKind.NUMBER),
        }
        return cls.from_arrow(t, names)

    def __len__(self) -> int:
        return len(self.msisdn)

    def locate(self, msisdns: np.ndarray) -> np.ndarray:
        """Row of each msisdn (int64), -1 where unknown."""
        pos = np.searchsorted(self.msisdn, msisdns)
        pos = np.minimum(pos, max(len(self.msisdn) - 1, 0))
        if len(self.msisdn) == 0:
            return np.full(len(msisdns), -1, np.int64)
        return np.where(self.msisdn[pos] == msisdns, pos, -1).astype(np.int64)

    def gather(self, rows: np.ndarray, names: Iterable[str]) -> dict[str, Column]:
        out = {}
        for n in names:
            v, nulls = self.columns[n]
            out[n] = (v[rows], None if nulls is None else nulls[rows])
        return out


@dataclass
class TypedBatch:
    """The events of one type in a micro-batch, as columns. ``index``: positions in the batch."""

    type: EventType
    index: np.ndarray  # int64
    msisdn: np.ndarray  # int64
    ts: np.ndarray  # datetime64[s]
    columns: dict[str, Column] = field(default_factory=dict)  # event.<field> → column

    def __len__(self) -> int:
        return len(self.index)

    @property
    def seconds_of_day(self) -> np.ndarray:
        return (self.ts - self.ts.astype("datetime64[D]")).astype(np.int64)


def split_by_type(
    events: Sequence[Event], fields: Mapping[EventType, set[str]] | None = None
) -> list[TypedBatch]:
    """Columnarise a batch of validated events, one :class:`TypedBatch` per type present.

    ``fields``: the ``event.<field>`` names to build per type (default: all of the type's fields).
    """
    codes = np.fromiter((TYPE_CODES[e.type] for e in events), np.int8, len(events))
    out = []
    for code in np.unique(codes):
        et = TYPES[int(code)]
        idx = np.flatnonzero(codes == code)
        evs = [events[i] for i in idx.tolist()]
        ts = np.array([e.ts for e in evs], dtype="datetime64[s]")
        tb = TypedBatch(et, idx, np.array([int(e.msisdn) for e in evs], np.int64), ts)
        wanted = (
            fields.get(et, set())
            if fields is not None
            else {f"event.{f}" for f in EVENT_FIELDS[et]}
            | {
                "event.type",
                "event.hour",
            }
        )
        for name in wanted:
            f = name.removeprefix("event.")
            if f == "type":
                tb.columns[name] = (np.full(len(evs), et.value), None)
            elif f == "hour":
                tb.columns[name] = ((tb.seconds_of_day // 3600).astype(np.float64), None)
            else:
                kind = EVENT_FIELDS[et][f][0]
                tb.columns[name] = _column([e.attrs.get(f) for e in evs], kind)
        out.append(tb)
    return out


@dataclass
class CompiledRule:
    rule: ActiveRule
    predicate: Predicate
    subscriber_columns: frozenset[str]
    event_columns: frozenset[str]
    window: tuple[int, int]  # seconds of day, inclusive
    valid: tuple[np.datetime64, np.datetime64]
    cancel: Predicate | None = None  # a sequence rule's cancel condition, over its cancel event


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def compile_rule(rule: ActiveRule, names: Mapping[str, NameInfo]) -> CompiledRule:
    d = rule.design
    cond = parse_condition(d.condition or "TRUE", names, event_names=event_names(d.event_type))
    cancel = None
    if d.sequence is not None:
        cancel = compile_predicate(
            parse_condition(
                d.sequence.cancel_condition or "TRUE", names, event_names=event_names(d.sequence.cancel_event)
            )
        )
    return CompiledRule(
        rule,
        compile_predicate(cond),
        cond.names,
        cond.event_fields,
        (_seconds(d.window_start), _seconds(d.window_end)),
        (np.datetime64(d.valid_from, "D"), np.datetime64(d.valid_until, "D")),
        cancel,
    )


@dataclass
class Matches:
    """Per type: the batch positions with at least one matching rule, and those rules in priority order."""

    events: np.ndarray  # int64 batch positions
    rules: list[list[int]]  # per event: indices into Matcher.rules, highest priority first
    cancels: list[tuple[int, np.ndarray, np.ndarray]]  # (rule index, msisdn int64, ts) of cancel events


class Matcher:
    """Active rules compiled once; ``match(types, subscribers)`` runs them over a micro-batch."""

    def __init__(self, rules: Sequence[ActiveRule], names: Mapping[str, NameInfo]) -> None:
        self.rules = [compile_rule(r, names) for r in rules]  # already priority-ordered by the store
        self.by_type: dict[EventType, list[int]] = {}
        self.cancel_by_type: dict[EventType, list[int]] = {}
        for i, r in enumerate(self.rules):
            self.by_type.setdefault(r.rule.design.event_type, []).append(i)
            seq = r.rule.design.sequence
            if seq is not None:
                self.cancel_by_type.setdefault(seq.cancel_event, []).append(i)

    def fields(self) -> dict[EventType, set[str]]:
        """The event columns each type's rules (and cancel conditions) read."""
        out: dict[EventType, set[str]] = {t: set() for t in EventType}
        for r in self.rules:
            out[r.rule.design.event_type] |= set(r.event_columns)
            if r.cancel is not None and r.rule.design.sequence is not None:
                out[r.rule.design.sequence.cancel_event] |= {
                    c for c in r.cancel.columns if c.startswith("event.")
                }
        return out

    def subscriber_columns(self) -> set[str]:
        out: set[str] = set()
        for r in self.rules:
            out |= set(r.subscriber_columns)
            if r.cancel is not None:
                out |= {c for c in r.cancel.columns if not c.startswith("event.")}
        return out

    def match(self, batches: Sequence[TypedBatch], subscribers: SubscriberTable, rows: np.ndarray) -> Matches:
        """``rows``: each batch position's subscriber row (from ``subscribers.locate``)."""
        ev_out: list[np.ndarray] = []
        rules_out: list[list[int]] = []
        cancels: list[tuple[int, np.ndarray, np.ndarray]] = []
        for tb in batches:
            mine = self.by_type.get(tb.type, [])
            cancel_rules = self.cancel_by_type.get(tb.type, [])
            if not mine and not cancel_rules:
                continue
            n = len(tb)
            sub_rows = rows[tb.index]
            need = set().union(*(self.rules[i].subscriber_columns for i in mine)) if mine else set()
            for i in cancel_rules:
                need |= {c for c in self.rules[i].cancel.columns if not c.startswith("event.")}  # type: ignore[union-attr]
            cols = {**tb.columns, **subscribers.gather(sub_rows, need)}
            if cancel_rules:
                for i in cancel_rules:
                    hit = self.rules[i].cancel(cols, n)  # type: ignore[misc]
                    if hit.any():
                        cancels.append((i, tb.msisdn[hit], tb.ts[hit]))
            if not mine:
                continue
            sod = tb.seconds_of_day
            day = tb.ts.astype("datetime64[D]")
            hits = np.zeros((n, len(mine)), bool)
            for j, i in enumerate(mine):
                r = self.rules[i]
                lo, hi = r.window
                in_window = (sod >= lo) & (sod <= hi) if lo <= hi else (sod >= lo) | (sod <= hi)
                valid = (day >= r.valid[0]) & (day <= r.valid[1])
                hits[:, j] = r.predicate(cols, n) & in_window & valid
            any_hit = np.flatnonzero(hits.any(axis=1))
            if len(any_hit) == 0:
                continue
            mine_arr = np.array(mine)
            ev_out.append(tb.index[any_hit])
            rules_out.extend(mine_arr[row].tolist() for row in hits[any_hit])
        events = np.concatenate(ev_out) if ev_out else np.zeros(0, np.int64)
        return Matches(events, rules_out, cancels)


def common_event_names() -> dict[str, NameInfo]:
    """``event.type`` and ``event.hour``, on every event type."""
    return {f"event.{k}": NameInfo(f"event.{k}", kind, values) for k, (kind, values) in COMMON_FIELDS.items()}
