"""Build the subscriber wide table: attributes and tags in dependency order, by DuckDB or Spark.

Layout under the warehouse (a contract with the audience engine and the models)::

    WAREHOUSE/wide/build-<id>/wide.parquet + meta.json    one finished build
    WAREHOUSE/wide/current -> build-<id>                   the published build (symlink, swapped atomically)
    WAREHOUSE/models/<model>.parquet                       model outputs (msisdn + columns) joined by tags
    WAREHOUSE/tags/parts/<engine>/<period>/<source>.parquet  per-source results, reused when unchanged
    WAREHOUSE/tags/runs.sqlite                             one row per build and per column built

A build works on a window: ``--period YYYY-MM`` is that calendar month; ``--day YYYY-MM-DD`` is the
30 days ending that day. Event tables are read for the window only (the files of its partitions);
bills for the three bill months ending with the window's last month; handset history up to the
window's end; ``subscribers`` is the latest snapshot per number (at or before the window's end when
there is one). A source is recomputed only when its definition or one of its input files changed
since its cached part was written (incremental by period); a failed build leaves ``current`` as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from tagcloud.tags.catalogue import (
    BUILD_RELATIONS,
    Attribute,
    Catalogue,
    SourcePlan,
    Tag,
    TagKind,
    compile_catalogue,
    model_schema,
)
from tagcloud.tags.results import BuildResult, ColumnRun, Window

REGION_COLUMNS = ("city_id", "county_id", "township_id")
ROLLING_DAYS = 30  # a daily build's window
BILL_MONTHS = 3  # bill months a window reads (ARPU 3-month average and the like)
HISTORY_TABLES = frozenset({"subscriber_handsets"})  # read from the beginning up to the window's end
# Relations over a table's whole history up to the window's end, beside its windowed relation:
# products held are decided by the last order of each product, which may be years old.
HISTORY_RELATIONS = {"orders_history": "orders"}


class BuildError(RuntimeError):
    """A build that could not finish; the previous published table is untouched."""


# Models whose output is computed from the published wide table (so the first build has none):
# the customer–service–channel matching library (`tagcloud matching build`).
AFTER_BUILD_MODELS = frozenset({"matching"})


def month_window(period: str) -> Window:
    try:
        start = datetime.strptime(period, "%Y-%m").date()
    except ValueError:
        raise BuildError(f"--period must be YYYY-MM, got {period!r}") from None
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Window(period, start, end, _bill_months(start))


def day_window(day: str) -> Window:
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise BuildError(f"--day must be YYYY-MM-DD, got {day!r}") from None
    end = d + timedelta(days=1)
    return Window(day, end - timedelta(days=ROLLING_DAYS), end, _bill_months(d.replace(day=1)))


def _bill_months(last: date) -> tuple[date, ...]:
    months = [last]
    for _ in range(BILL_MONTHS - 1):
        prev = months[-1] - timedelta(days=1)
        months.append(prev.replace(day=1))
    return tuple(reversed(months))


def latest_window(warehouse: Any) -> Window:
    """The month of the latest day of event data in the warehouse."""
    from tagcloud.data.model import TABLES, Partitioning

    days = [p for t, m in TABLES.items() if m.partition == Partitioning.DAY for p in warehouse.periods(t)]
    if not days:
        months = [p for t in TABLES for p in warehouse.periods(t)]
        if not months:
            raise BuildError(f"the warehouse {warehouse.root} has no partitioned data: ingest first")
        return month_window(max(months)[:7])
    return month_window(max(days)[:7])


# -- SQL generation ----------------------------------------------------------------------------------


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def source_sql(plan: SourcePlan, attrs: list[Attribute], rollup: bool = True) -> str:
    """One query computing every attribute of one source, one row per msisdn.

    An event source with many aggregates over a few tested columns is rolled up first
    (:mod:`tagcloud.tags.rollup`: same results, far fewer rows for the wide aggregate)."""
    if plan.source.grain == "event" and rollup:
        from tagcloud.tags.rollup import NotSplittable, plan_rollup, stage1_sql, worth_it

        try:
            r = plan_rollup([a.expr for a in attrs])
        except NotSplittable:
            r = None
        if r is not None and worth_it(r):
            cols = ",\n  ".join(
                f"CAST({e} AS {a.sql_type}) AS {q(a.id)}" for e, a in zip(r.exprs, attrs, strict=True)
            )
            return f"SELECT msisdn,\n  {cols}\nFROM ({stage1_sql(r, plan.source.sql)}) AS r1\nGROUP BY msisdn"
    cols = ",\n  ".join(f"CAST({a.expr} AS {a.sql_type}) AS {q(a.id)}" for a in attrs)
    group = " GROUP BY msisdn" if plan.source.grain == "event" else ""
    return f"SELECT msisdn,\n  {cols}\nFROM ({plan.source.sql}) AS src\nWHERE msisdn IS NOT NULL{group}"


def tag_sql(cat: Catalogue, t: Tag) -> str:
    """The SQL expression of a tag over the columns of the layer below it."""
    if t.model is not None:
        typ = "BOOLEAN" if t.kind == TagKind.FLAG else "VARCHAR"
        return f"CAST({q('m_' + t.model)}.{q(t.column or t.id)} AS {typ})"
    if t.kind == TagKind.FLAG:
        return f"COALESCE(({cat.conditions[t.id].to_sql()}), FALSE)"
    if t.kind == TagKind.ENUM:
        whens = " ".join(
            f"WHEN {cat.conditions[f'{t.id}:{v.value}'].to_sql()} THEN {_lit(v.value)}" for v in t.values
        )
        return f"CASE {whens} END"
    of = q(t.of or "")
    whens = " ".join(f"WHEN {of} < {v.upper!r} THEN {_lit(v.value)}" for v in t.values if v.upper is not None)
    return f"CASE WHEN {of} IS NULL THEN NULL {whens} ELSE {_lit(t.values[-1].value)} END"


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _default(a: Attribute) -> str:
    if a.default is None:
        return "NULL"
    if isinstance(a.default, bool):
        return "TRUE" if a.default else "FALSE"
    if isinstance(a.default, (int, float)):
        return repr(a.default)
    return _lit(str(a.default))


def wide_sql(cat: Catalogue, plans: dict[str, SourcePlan], tags: list[Tag], models: list[str]) -> str:
    """The wide table as one query: the layers of :func:`wide_layers` nested."""
    layers = wide_layers(cat, plans, tags, models)
    sql = layers[0]
    for i, layer in enumerate(layers[1:]):
        sql = layer.replace(f"FROM {q(f'_layer{i}')}", f"FROM ({sql})")
    return sql


def wide_layers(
    cat: Catalogue, plans: dict[str, SourcePlan], tags: list[Tag], models: list[str]
) -> list[str]:
    """The wide table in steps: the subscriber base joined to every source part, then layers of
    derived attributes and tags, each layer reading only the columns of the layers below it (the
    relation ``_layer<k-1>``); the last step orders the columns and rows."""
    joins = []
    select = ["b.msisdn", *(f"b.{c}" for c in REGION_COLUMNS)]
    by_source: dict[str, list[Attribute]] = {}
    for a in cat.attributes.values():
        if not a.derived:
            by_source.setdefault(a.source, []).append(a)
    for i, (sid, attrs) in enumerate(sorted(by_source.items())):
        alias = f"s{i}"
        joins.append(f"LEFT JOIN {q('part_' + sid)} AS {alias} ON {alias}.msisdn = b.msisdn")
        for a in attrs:
            col = f"{alias}.{q(a.id)}"
            select.append(
                f"COALESCE({col}, {_default(a)}) AS {q(a.id)}"
                if a.default is not None
                else f"{col} AS {q(a.id)}"
            )
    for m in models:
        joins.append(f"LEFT JOIN {q('model_' + m)} AS {q('m_' + m)} ON {q('m_' + m)}.msisdn = b.msisdn")
    model_tags = [t for t in tags if t.model is not None]
    for t in model_tags:
        select.append(f"{tag_sql(cat, t)} AS {q(t.id)}")
    sql = f"SELECT {', '.join(select)}\nFROM subscriber_base AS b\n" + "\n".join(joins)

    # Layers: a derived attribute or tag sits one above the highest name it reads.
    built = {t.id for t in tags}
    level: dict[str, int] = {a.id: 0 for a in cat.attributes.values() if not a.derived}
    level.update({t.id: 0 for t in model_tags})
    layers: dict[int, list[str]] = {}
    for name in cat.order:
        if name in level or (name in cat.tags and name not in built):
            continue
        lv = 1 + max((level.get(d, 0) for d in cat.depends.get(name, ())), default=0)
        level[name] = lv
        layers.setdefault(lv, []).append(name)
    steps = [sql]
    for i, lv in enumerate(sorted(layers)):
        exprs = []
        for name in layers[lv]:
            if name in cat.attributes:
                a = cat.attributes[name]
                exprs.append(f"CAST({a.expr} AS {a.sql_type}) AS {q(name)}")
            else:
                exprs.append(f"{tag_sql(cat, cat.tags[name])} AS {q(name)}")
        steps.append(f"SELECT *, {', '.join(exprs)}\nFROM {q(f'_layer{i}')} AS l{i}")
    order = ["msisdn", *REGION_COLUMNS, *wide_columns(cat, tags)]
    n = len(steps) - 1
    steps.append(f"SELECT {', '.join(q(c) for c in order)} FROM {q(f'_layer{n}')} AS w ORDER BY msisdn")
    return steps


def wide_columns(cat: Catalogue, tags: list[Tag]) -> list[str]:
    """Attribute and tag columns of the wide table, in catalogue order (attributes, then tags)."""
    built = {t.id for t in tags}
    return [*cat.attributes, *(t for t in cat.tags if t in built)]


def base_sql(window: Window) -> str:
    """One row per subscriber with the home region's city, county and township."""
    return (
        "SELECT s.msisdn, cty.region_id AS city_id, cnty.region_id AS county_id, tw.region_id AS township_id "
        "FROM subscribers AS s "
        "LEFT JOIN regions AS tw ON tw.region_id = s.home_region_id "
        "LEFT JOIN regions AS cnty ON cnty.region_id = tw.parent_id "
        "LEFT JOIN regions AS cty ON cty.region_id = cnty.parent_id"
    )


def subscribers_sql(window: Window) -> str:
    """The latest snapshot per number (at or before the window's end when there is one), not closed."""
    end = _lit(window.end.isoformat())
    return (
        "SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY msisdn ORDER BY "
        f"CASE WHEN snapshot_date < CAST({end} AS DATE) THEN 0 ELSE 1 END, snapshot_date DESC) AS rn "
        "FROM _snap_subscribers) AS s WHERE rn = 1 AND status <> 'closed'"
    )


# -- the build ---------------------------------------------------------------------------------------


def _relation_files(
    wh: Any, table: str, window: Window, history: bool = False
) -> tuple[list[Path], Path | None, str | None]:
    """The files of ``table`` a window reads (``history``: everything up to the window's end), the
    hive base folder, and a row filter (DuckDB SQL)."""
    from tagcloud.data.model import TABLES, Partitioning

    t = TABLES[table]
    files = wh.table_files(table)
    if t.partition == Partitioning.NONE:
        return files, None, None
    base = wh.table_dir(table)
    start, end = window.start.isoformat(), window.end.isoformat()
    if t.partition == Partitioning.DAY:
        keep = [f for f in files if start <= f.parent.name.split("=", 1)[1] < end]
    else:
        if table == "billing_monthly":
            months = {m.strftime("%Y-%m") for m in window.bill_months}
            keep = [f for f in files if f.parent.name.split("=", 1)[1] in months]
        elif table in HISTORY_TABLES or history:
            last = (window.end - timedelta(days=1)).strftime("%Y-%m")
            keep = [f for f in files if f.parent.name.split("=", 1)[1] <= last]
        else:
            first, last = start[:7], (window.end - timedelta(days=1)).strftime("%Y-%m")
            keep = [f for f in files if first <= f.parent.name.split("=", 1)[1] <= last]
    where = None
    if t.time_column and table != "billing_monthly":
        col = q(t.time_column)
        if table in HISTORY_TABLES or history:
            where = f"{col} < TIMESTAMP {_lit(end)}"
        else:
            where = f"{col} >= TIMESTAMP {_lit(start)} AND {col} < TIMESTAMP {_lit(end)}"
    return keep, base, where


def _write_json(path: Path, obj: Any) -> None:
    """Replace a cache record whole: a build killed mid-write must not leave half a JSON file that
    every later build then fails to read."""
    staged = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(obj))
    os.replace(staged, path)


def _read_json(path: Path) -> dict[str, Any]:
    """A cache record, or {} when there is none or it is unreadable (then the part is rebuilt)."""
    try:
        out = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _fingerprint(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def build(
    warehouse: Path | str,
    *,
    engine: str = "duckdb",
    period: str | None = None,
    day: str | None = None,
    catalogue: Catalogue | None = None,
    include_drafts: bool = True,
    skip_missing_models: bool = False,
    force: bool = False,
    force_translate: bool | None = None,
    quiet: bool = False,
    engine_options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    slice_subscribers: int | None = None,
) -> BuildResult:
    """Compute every attribute and built tag for one window and publish the wide table.

    Returns what was built with rows, seconds and coverage per column; raises BuildError (naming
    the source, tag or missing model output) and leaves the published table in place on failure.
    ``force`` recomputes every source part; ``force_translate`` (default: ``force``) also translates
    the window's xDR again, which is otherwise kept per day while its files and the rules are unchanged.
    ``slice_subscribers`` (default: the engine's) runs each source once per range of about that many
    subscribers (0: in one piece); the wide table is the same either way.
    """
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.progress import job
    from tagcloud.tags.engines import engine as make_engine
    from tagcloud.tags.governance import load_effective_catalogue

    wh = Warehouse(Path(warehouse))
    if period and day:
        raise BuildError("give --period or --day, not both")
    window = month_window(period) if period else day_window(day) if day else latest_window(wh)
    # The package definitions with this warehouse's approved versions over them (tags/overrides).
    cat = catalogue or load_effective_catalogue(wh.root)
    plans = compile_catalogue(cat) if not cat.depends else {s: _plan(s, cat) for s in cat.sources}
    tags = [t for t in cat.built_tags() if include_drafts or t.status.value != "draft"]

    # Model outputs: missing ones fail the build unless asked to skip the tags that need them.
    models_dir = wh.root / "models"
    needed = sorted({t.model for t in tags if t.model})
    missing = [m for m in needed if not (models_dir / f"{m}.parquet").is_file()]
    skipped: list[str] = []
    # Models computed from the wide table itself are absent from a warehouse's first build: its
    # tags are left out then, not a failure (their command republishes the table with them).
    late = [m for m in missing if m in AFTER_BUILD_MODELS]
    if late:
        drop_late = {t.id for t in tags if t.model in late}
        skipped += sorted(drop_late)
        tags = [t for t in tags if t.id not in drop_late]
        needed = [m for m in needed if m not in late]
        missing = [m for m in missing if m not in late]
    if missing:
        users = {m: [t.id for t in tags if t.model == m] for m in missing}
        if not skip_missing_models:
            detail = "; ".join(f"models/{m}.parquet (needed by {', '.join(users[m][:5])})" for m in missing)
            raise BuildError(
                f"missing model output: {detail}. Run the models first or pass --skip-missing-models"
            )
        drop = {t for m in missing for t in users[m]}
        # a tag reading a dropped tag is dropped too
        for name in cat.order:
            if name in cat.tags and cat.depends.get(name, frozenset()) & drop:
                drop.add(name)
        skipped += sorted(drop)
        tags = [t for t in tags if t.id not in drop]
        needed = [m for m in needed if m not in missing]

    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    wide_root = wh.root / "wide"
    out_dir = wide_root / f"build-{build_id}"
    parts_dir = wh.root / "tags" / "parts" / engine / window.label
    started = time.perf_counter()
    eng = make_engine(engine, **(engine_options or {}))
    sources_built: list[str] = []
    sources_reused: list[str] = []
    source_seconds: dict[str, float] = {}
    rows_scanned = 0
    try:
        schema = model_schema()
        relations = _window_relations(wh, window, schema)
        # relative paths: a copied warehouse keeps its cached parts
        inputs: dict[str, list[Any]] = {
            r.name: [(str(f.relative_to(wh.root)), f.stat().st_size, f.stat().st_mtime_ns) for f in r.files]
            for r in relations
        }
        eng.register_arrow("build_period", _period_table(window))
        eng.register_arrow("ref_lists", _lists_table(cat))
        by_source: dict[str, list[Attribute]] = {}
        for a in cat.attributes.values():
            if not a.derived:
                by_source.setdefault(a.source, []).append(a)
        needs_xdr = any("xdr_translated" in plans[s].tables for s in by_source)
        if needs_xdr:
            t0 = time.perf_counter()
            relations.append(
                _register_translated(
                    eng, wh, window, inputs, force=force if force_translate is None else force_translate
                )
            )
            source_seconds["_translate"] = time.perf_counter() - t0
        relations += [Relation(f"model_{m}", "", [models_dir / f"{m}.parquet"]) for m in needed]
        _register_inputs(eng, window, schema, relations)
        per_slice = eng.slice_subscribers if slice_subscribers is None else slice_subscribers
        slices = _slices(eng, per_slice)

        # Sources whose cached part is current are reused; the others run once per slice of
        # subscribers (one slice unless the engine asks for them), every slice reading only its own
        # subscribers' rows of every msisdn-keyed relation.
        todo: list[tuple[str, str, str, list[str], list[Path]]] = []  # source, SQL, fingerprint, reads, parts
        for sid, attrs in sorted(by_source.items()):
            plan = plans[sid]
            sql = source_sql(plan, attrs)
            # every relation with input files counts: model tables, orders_history, xdr_translated
            reads = sorted(t for t in plan.tables if t in inputs)
            fp = _fingerprint(
                [
                    sql,
                    window.label,
                    [inputs.get(t) for t in reads],
                    cat.lists if "ref_lists" in plan.tables else None,
                    [s.bounds for s in slices] if len(slices) > 1 else None,
                ]
            )
            meta = parts_dir / f"{sid}.json"
            cached = _read_json(meta) if not force else {}
            files = [parts_dir / f for f in cached.get("files", [f"{sid}.parquet"])]
            if cached.get("fingerprint") == fp and all(f.is_file() for f in files):
                sources_reused.append(sid)
                source_seconds[sid] = 0.0
            else:
                if len(slices) == 1:
                    files = [parts_dir / f"{sid}.parquet"]
                else:
                    files = [parts_dir / f"{sid}.s{i:03d}.parquet" for i in range(len(slices))]
                todo.append((sid, sql, fp, reads, files))
        bar_steps = len(sources_reused) + len(todo) * len(slices) + 1
        with job(f"build {window.label} ({engine})", total=bar_steps, quiet=quiet) as j:
            j.advance(len(sources_reused), note="reused parts")
            for i, piece in enumerate(slices):
                if len(slices) > 1:
                    _register_inputs(eng, window, schema, relations, piece)
                for sid, sql, _fp, reads, files in todo:
                    t0 = time.perf_counter()
                    try:
                        eng.write_parquet(sql, files[i])
                    except Exception as e:  # engine errors name only SQL; say which source failed
                        where = f" (subscribers {piece.label})" if len(slices) > 1 else ""
                        raise BuildError(f"source {sid!r} failed on {engine}{where}: {e}") from e
                    source_seconds[sid] = source_seconds.get(sid, 0.0) + time.perf_counter() - t0
                    # the bar counts rows actually read: a reused part reads nothing
                    rows = _rows_of(wh.root, inputs, reads) if i == len(slices) - 1 else 0
                    note = f"{sid} · slice {i + 1}/{len(slices)}" if len(slices) > 1 else sid
                    j.advance(1, rows=rows, note=note)
            if len(slices) > 1:
                _register_inputs(eng, window, schema, relations)
            for sid, _sql, fp, reads, files in todo:
                for stale in {*parts_dir.glob(f"{sid}.parquet"), *parts_dir.glob(f"{sid}.s*.parquet")}:
                    if stale not in files:
                        stale.unlink()
                _write_json(
                    parts_dir / f"{sid}.json",
                    {
                        "fingerprint": fp,
                        "files": [f.name for f in files],
                        "built_at": datetime.now(UTC).isoformat(),
                    },
                )
                sources_built.append(sid)
                rows_scanned += _rows_of(wh.root, inputs, reads)
            for sid, attrs in sorted(by_source.items()):
                meta = json.loads((parts_dir / f"{sid}.json").read_text())
                eng.register_files(
                    f"part_{sid}",
                    [parts_dir / f for f in meta["files"]],
                    None,
                    {"msisdn": "VARCHAR", **{a.id: a.sql_type for a in attrs}},
                )
            t0 = time.perf_counter()
            out_dir.mkdir(parents=True, exist_ok=True)
            try:
                if eng.materialise_layers:
                    # write each layer and read it back: the planner sees one layer at a time
                    steps = wide_layers(cat, plans, tags, needed)
                    for k, step in enumerate(steps[:-1]):
                        path = parts_dir / f"layer{k}.tmp.parquet"
                        eng.write_parquet(step, path)
                        eng.register_files(f"_layer{k}", [path], None, _parquet_schema(path), None)
                    rows = eng.write_parquet(steps[-1], out_dir / "wide.parquet")
                else:
                    rows = eng.write_parquet(wide_sql(cat, plans, tags, needed), out_dir / "wide.parquet")
            except Exception as e:
                raise BuildError(f"assembling the wide table failed on {engine}: {e}") from e
            source_seconds["_wide"] = time.perf_counter() - t0
            j.advance(1, note="wide table")
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        eng.close()

    result = BuildResult(
        build_id=build_id,
        engine=engine,
        window=window,
        path=out_dir,
        rows=rows,
        seconds=time.perf_counter() - started,
        rows_scanned=rows_scanned,
        sources_built=sources_built,
        sources_reused=sources_reused,
        skipped_tags=skipped,
        translate_seconds=source_seconds.get("_translate", 0.0),
        slices=len(slices),
    )
    from tagcloud.tags.runs import RunLog, coverage

    cov = coverage(out_dir / "wide.parquet", cat, tags)
    log = RunLog(wh.root / "tags" / "runs.sqlite")
    previous = log.last_coverage(window.label)
    for a in cat.attributes.values():
        src = "derived" if a.derived else a.source
        result.columns.append(
            ColumnRun(
                a.id, "attribute", src, rows, source_seconds.get(a.source, 0.0), cov[a.id], previous.get(a.id)
            )
        )
    for t in tags:
        result.columns.append(
            ColumnRun(t.id, "tag", "tags", rows, source_seconds["_wide"], cov[t.id], previous.get(t.id))
        )
    (out_dir / "meta.json").write_text(json.dumps(_meta(cat, tags, result), ensure_ascii=False, indent=1))
    publish(wide_root, out_dir)
    log.record(result)
    _consume_dirty(wh, window)
    return result


def _plan(sid: str, cat: Catalogue) -> SourcePlan:
    from tagcloud.tags.catalogue import compile_source

    return compile_source(cat.sources[sid])


def _rows_of(root: Path, inputs: dict[str, list[Any]], tables: list[str]) -> int:
    """Rows a source reads: from the Parquet footers of its input files (cheap, no scan)."""

    n = 0
    for t in tables:
        for path, _size, _mtime in inputs.get(t) or []:
            n += _footer_rows(str(root / path))
    return n


_FOOTERS: dict[str, int] = {}


def _footer_rows(path: str) -> int:
    import pyarrow.parquet as pq

    if path not in _FOOTERS:
        _FOOTERS[path] = pq.ParquetFile(path).metadata.num_rows
    return _FOOTERS[path]


def _parquet_schema(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    if "msisdn" not in names:
        raise BuildError(f"{path} has no msisdn column")
    return {n: "VARCHAR" for n in names}  # types come from the file; this only lists the columns


def _period_table(window: Window) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "period_start": pa.array([window.start], pa.date32()),
            "period_end": pa.array([window.end], pa.date32()),
            "period_days": pa.array([window.days], pa.int32()),
            "bill_month": pa.array([window.bill_months[-1]], pa.date32()),
            "year_start": pa.array([window.end - timedelta(days=365)], pa.date32()),
        }
    )


def _lists_table(cat: Catalogue) -> Any:
    import pyarrow as pa

    rows = [(lid, v) for lid, vals in sorted(cat.lists.items()) for v in vals]
    return pa.table(
        {
            "list_id": pa.array([r[0] for r in rows], pa.string()),
            "value": pa.array([r[1] for r in rows], pa.string()),
        }
    )


TRANSLATED_DIR = ("tags", "translated")  # WAREHOUSE/tags/translated/<day>.parquet: the DWD layer of xDR


def _register_translated(
    eng: Any, wh: Any, window: Window, inputs: dict[str, list[Any]], force: bool = False
) -> Relation:
    """URL/app translation of the window's xDR (tagcloud.models.urls, in DuckDB), staged as Parquet so
    every engine reads the same translated records.

    One file per day (``WAREHOUSE/tags/translated/day=<day>.parquet``), redone only when that day's
    xDR files or the rule library change: the daily build of tomorrow translates one new day, not the
    30 it shares with today's, and a month build reuses the days a daily build already translated.
    """
    files = translated_days(wh, window, force=force)
    start, end = _lit(window.start.isoformat()), _lit(window.end.isoformat())
    where = f"start_time >= TIMESTAMP {start} AND start_time < TIMESTAMP {end}"
    rel = Relation("xdr_translated", "xdr_translated", [f for f, _ in files], where=where)
    eng.register_files(rel.name, rel.files, None, BUILD_RELATIONS["xdr_translated"], where)
    inputs["xdr_translated"] = [(str(f.relative_to(wh.root)), f.stat().st_size, fp) for f, fp in files]
    return rel


@dataclass(frozen=True)
class Slice:
    """A range of subscribers a build computes its sources over in one go: ``lo <= msisdn < hi``
    (an open end is None). Every msisdn-keyed relation is read for the slice's subscribers only."""

    lo: str | None
    hi: str | None

    @property
    def bounds(self) -> tuple[str | None, str | None]:
        return (self.lo, self.hi)

    @property
    def label(self) -> str:
        return f"{self.lo or '…'} – {self.hi or '…'}"

    def sql(self) -> str | None:
        conds = [
            f"msisdn >= {_lit(self.lo)}" if self.lo else "",
            f"msisdn < {_lit(self.hi)}" if self.hi else "",
        ]
        return " AND ".join(c for c in conds if c) or None


WHOLE = Slice(None, None)


def _slices(eng: Any, per_slice: int) -> list[Slice]:
    """Ranges of about ``per_slice`` subscribers each, cut at the msisdn quantiles of the window's
    subscribers (the first and last open, so that event rows of numbers outside the subscriber
    table fall in a slice too); one whole slice when ``per_slice`` is 0 or covers everyone."""
    if per_slice <= 0:
        return [WHOLE]
    if not hasattr(eng, "con"):
        raise BuildError(f"slices of subscribers are for the DuckDB engine, not {eng.name}")
    (n,) = eng.con.execute("SELECT count(*) FROM subscribers").fetchone()
    k = -(-int(n) // per_slice)
    if k <= 1:
        return [WHOLE]
    qs = ", ".join(str(i / k) for i in range(1, k))
    (cuts,) = eng.con.execute(f"SELECT quantile_disc(msisdn, [{qs}]) FROM subscribers").fetchone()
    edges = sorted(set(cuts))
    bounds = [None, *edges, None]
    return [Slice(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


@dataclass
class Relation:
    """One relation of a build's window: its files (hive-partitioned under ``base`` if given) and
    row filter; ``schema_key`` names its columns in :func:`model_schema` ("" for a model output,
    whose columns come from its file). All of them are keyed by msisdn but the reference tables."""

    name: str
    schema_key: str
    files: list[Path]
    base: Path | None = None
    where: str | None = None
    keyed: bool = True

    @property
    def registered_as(self) -> str:  # subscribers: the snapshots, under the latest-snapshot view
        return "_snap_subscribers" if self.name == "subscribers" else self.name


def _window_relations(wh: Any, window: Window, schema: dict[str, dict[str, str]]) -> list[Relation]:
    """The warehouse tables and history relations as the window reads them (files listed once)."""
    from tagcloud.data.model import TABLES

    out = []
    for table in TABLES:
        files, base, where = _relation_files(wh, table, window)
        out.append(Relation(table, table, files, base, where, keyed="msisdn" in schema[table]))
    for name, table in HISTORY_RELATIONS.items():
        files, base, where = _relation_files(wh, table, window, history=True)
        out.append(Relation(name, table, files, base, where))
    return out


def _register_inputs(
    eng: Any,
    window: Window,
    schema: dict[str, dict[str, str]],
    relations: list[Relation],
    piece: Slice = WHOLE,
) -> None:
    """Register every relation a source or the wide table reads, and the views over them
    (``subscribers`` as the latest snapshot, ``subscriber_base``); with a slice, every relation
    keyed by msisdn holds that slice's rows only."""
    rng = piece.sql()
    for r in relations:
        cols = schema[r.schema_key] if r.schema_key else _parquet_schema(r.files[0])
        where = " AND ".join(w for w in (r.where, rng if r.keyed else None) if w) or None
        eng.register_files(r.registered_as, r.files, r.base, cols, where)
    eng.register_query("subscribers", subscribers_sql(window))
    eng.register_query("subscriber_base", base_sql(window))


def translated_days(wh: Any, window: Window, force: bool = False) -> list[tuple[Path, str]]:
    """The translated xDR files of the window's days (translating the days that need it, or every
    day with ``force``), each with the fingerprint of its input files and rules."""
    import duckdb

    from tagcloud.models.urls import load_rules, translate
    from tagcloud.tags.engines.duckdb import DuckDBEngine

    rules = load_rules()
    rules_fp = _fingerprint([repr(rules)])
    xdr, base, _where = _relation_files(wh, "data_xdr", window)
    by_day: dict[str, list[Path]] = {}
    for f in xdr:
        by_day.setdefault(f.parent.name, []).append(f)
    out_dir = wh.root.joinpath(*TRANSLATED_DIR)
    out: list[tuple[Path, str]] = []
    schema = model_schema()["data_xdr"]
    cols = ", ".join(BUILD_RELATIONS["xdr_translated"])
    for day, day_files in sorted(by_day.items()):
        fp = _fingerprint(
            [
                rules_fp,
                [(str(f.relative_to(wh.root)), f.stat().st_size, f.stat().st_mtime_ns) for f in day_files],
            ]
        )
        path, meta = out_dir / f"{day}.parquet", out_dir / f"{day}.json"
        fresh = path.is_file() and _read_json(meta).get("fingerprint") == fp
        if force or not fresh:
            con = duckdb.connect()
            try:
                tmp = DuckDBEngine.__new__(DuckDBEngine)
                tmp.con = con
                tmp.register_files("data_xdr", day_files, base, schema, None)
                translate(con, "data_xdr", rules, into="xdr_translated")
                out_dir.mkdir(parents=True, exist_ok=True)
                con.execute(
                    f"COPY (SELECT {cols} FROM xdr_translated) TO '{path}.tmp' (FORMAT parquet, COMPRESSION zstd)"
                )
                os.replace(f"{path}.tmp", path)
                _write_json(meta, {"fingerprint": fp})
            finally:
                con.close()
        out.append((path, fp))
    return out


def _meta(cat: Catalogue, tags: list[Tag], result: BuildResult) -> dict[str, Any]:
    cols: list[dict[str, Any]] = []
    for a in cat.attributes.values():
        cols.append(
            {
                "name": a.id,
                "kind": a.kind.value,
                "label_zh": a.name_zh,
                "label_en": a.name_en,
                "category": a.category,
                "values": list(a.values) if a.values else None,
                "type": "attribute",
                "unit": a.unit,
            }
        )
    for t in tags:
        cols.append(
            {
                "name": t.id,
                "kind": "flag" if t.kind == TagKind.FLAG else "enum",
                "label_zh": t.name_zh,
                "label_en": t.name_en,
                "category": t.category,
                "values": list(t.value_codes) if t.kind != TagKind.FLAG else None,
                "value_labels": {v.value: v.name_zh for v in t.values} or None,
                "type": "tag",
            }
        )
    return {
        "build_id": result.build_id,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "period": result.window.label,
        "window": [result.window.start.isoformat(), result.window.end.isoformat()],
        "engine": result.engine,
        "rows": result.rows,
        "columns": cols,
    }


def publish(wide_root: Path, build_dir: Path) -> None:
    """Point ``wide/current`` at ``build_dir`` with one atomic rename of a fresh symlink."""
    current = wide_root / "current"
    if current.exists() and not current.is_symlink():
        # A plain folder (e.g. a synthetic table from tests): keep it aside, then switch to links.
        current.rename(wide_root / f"build-legacy-{uuid.uuid4().hex[:6]}")
    tmp = wide_root / f".current-{uuid.uuid4().hex[:6]}"
    os.symlink(build_dir.name, tmp)
    os.replace(tmp, current)
    _prune(wide_root, keep=3)


def _prune(wide_root: Path, keep: int) -> None:
    current = (wide_root / "current").resolve()
    builds = sorted((p for p in wide_root.glob("build-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in builds[:-keep]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)


def _consume_dirty(wh: Any, window: Window) -> None:
    """Mark the ingest ledger's dirty periods inside this window as rebuilt."""
    if not wh.ledger_path.is_file():
        return
    try:
        ledger = wh.ledger()
        try:
            ids = []
            for d in ledger.dirty_periods():
                p = d.period
                if (len(p) == 10 and window.start.isoformat() <= p < window.end.isoformat()) or (
                    len(p) == 7 and p in {m.strftime("%Y-%m") for m in window.bill_months}
                ):
                    ids.append(d.id)
            if ids:
                ledger.consume_dirty(ids)
        finally:
            ledger.close()
    except Exception:  # the ledger belongs to ingestion; a build never fails because of it
        return
