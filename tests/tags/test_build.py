"""The DuckDB build over a simulated province: the wide table, its meta, independent checks of
attributes and tags, incremental rebuilds, atomic publishing, model outputs and run records."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from tagcloud.tags.build import BuildError, build, day_window, month_window
from tagcloud.tags.catalogue import AttrKind, Catalogue, TagKind, add_document, compile_catalogue

pytestmark = pytest.mark.slow


def _wide(wh: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW w AS SELECT * FROM read_parquet('{wh / 'wide' / 'current' / 'wide.parquet'}')")
    return con


def test_wide_table_layout_and_meta(built, catalogue: Catalogue) -> None:
    wh, r = built
    current = wh / "wide" / "current"
    assert current.is_symlink() and current.resolve() == r.path.resolve()
    con = _wide(wh)
    cols = [c[0] for c in con.execute("DESCRIBE w").fetchall()]
    assert cols[:4] == ["msisdn", "city_id", "county_id", "township_id"]
    assert cols[4:] == [
        *catalogue.attributes,
        *(t.id for t in catalogue.built_tags() if t.id not in r.skipped_tags),
    ]
    n, distinct = con.execute("SELECT count(*), count(DISTINCT msisdn) FROM w").fetchone()
    assert n == distinct == r.rows > 300
    meta = json.loads((current / "meta.json").read_text())
    assert meta["build_id"] == r.build_id and meta["period"] == "2026-10"
    by_name = {c["name"]: c for c in meta["columns"]}
    assert by_name["brand"]["kind"] == "enum" and by_name["brand"]["values"] == ["gotone", "mzone", "easyown"]
    assert by_name["car_owner"]["kind"] == "flag" and by_name["car_owner"]["label_zh"] == "私家车主"
    assert by_name["arpu_tier"]["kind"] == "enum" and "200_plus" in by_name["arpu_tier"]["values"]
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE w)").fetchall())
    for a in catalogue.attributes.values():
        expected = {
            "DOUBLE": "DOUBLE",
            "BIGINT": "BIGINT",
            "BOOLEAN": "BOOLEAN",
            "VARCHAR": "VARCHAR",
            "DATE": "DATE",
        }
        assert types[a.id] == expected[a.sql_type], a.id
    # enum values are within the declared values
    for t in catalogue.built_tags():
        if t.kind != TagKind.FLAG and t.id not in r.skipped_tags:
            got = {
                v
                for (v,) in con.execute(
                    f'SELECT DISTINCT "{t.id}" FROM w WHERE "{t.id}" IS NOT NULL'
                ).fetchall()
            }
            assert got <= set(t.value_codes), t.id
    # every subscriber has a home region
    assert con.execute("SELECT count(*) FROM w WHERE township_id IS NULL OR city_id IS NULL").fetchone() == (
        0,
    )


def test_attributes_match_an_independent_computation(built, tag_warehouse: Path) -> None:
    wh, _r = built
    from tagcloud.data.warehouse import Warehouse

    con = Warehouse(tag_warehouse).connect(threads=1)
    con.execute(f"CREATE VIEW w AS SELECT * FROM read_parquet('{wh / 'wide' / 'current' / 'wide.parquet'}')")
    # calls: every voice record of October, by number
    diff = con.execute(
        """SELECT count(*) FROM w LEFT JOIN (
               SELECT msisdn, count(*) AS n, sum(duration_s) / 60.0 AS minutes,
                      count(*) FILTER (WHERE peer_operator = 'CU') AS cu
               FROM voice_cdr WHERE start_time >= '2026-10-01' AND start_time < '2026-11-01' GROUP BY msisdn
           ) v USING (msisdn)
           WHERE w.calls <> COALESCE(v.n, 0) OR w.call_minutes <> COALESCE(v.minutes, 0)
              OR w.calls_cu <> COALESCE(v.cu, 0)"""
    ).fetchone()
    assert diff == (0,)
    # ARPU 3-month average: bills of August-October, the exact decimal sum divided once — equal to
    # the last bit, so that a threshold tag cannot flip between runs on the order threads add doubles
    diff = con.execute(
        """SELECT count(*) FROM w LEFT JOIN (
               SELECT msisdn, CAST(sum(arpu) AS DOUBLE) / count(arpu) AS a FROM billing_monthly
               WHERE bill_month BETWEEN '2026-08-01' AND '2026-10-01' GROUP BY msisdn) b USING (msisdn)
           WHERE (w.arpu_3m IS NULL) <> (b.a IS NULL) OR w.arpu_3m <> b.a"""
    ).fetchone()
    assert diff == (0,)
    assert con.execute("SELECT count(*) FROM w WHERE arpu_3m IS NOT NULL").fetchone()[0] > 0


def test_every_rule_tag_equals_its_condition_over_the_wide_table(built, catalogue: Catalogue) -> None:
    wh, _ = built
    con = _wide(wh)
    checks = []
    for t in catalogue.built_tags():
        if t.model is not None or t.id in built[1].skipped_tags:
            continue
        if t.kind == TagKind.FLAG:
            expected = f"COALESCE(({catalogue.conditions[t.id].to_sql()}), FALSE)"
        elif t.kind == TagKind.ENUM:
            whens = " ".join(
                f"WHEN {catalogue.conditions[f'{t.id}:{v.value}'].to_sql()} THEN '{v.value}'"
                for v in t.values
            )
            expected = f"CASE {whens} END"
        else:
            continue
        checks.append(
            f'sum(CASE WHEN "{t.id}" IS NOT DISTINCT FROM ({expected}) THEN 0 ELSE 1 END) AS "{t.id}"'
        )
    row = con.execute(f"SELECT {', '.join(checks)} FROM w").fetchone()
    bad = [c.split(" AS ")[-1] for c, v in zip(checks, row, strict=True) if v]
    assert not bad
    # buckets: the value is the first bucket whose bound is above the number
    t = catalogue.tags["arpu_tier"]
    assert con.execute(
        """SELECT count(*) FROM w WHERE arpu_tier IS DISTINCT FROM CASE WHEN arpu_3m IS NULL THEN NULL
           WHEN arpu_3m < 20 THEN 'under_20' WHEN arpu_3m < 50 THEN '20_49' WHEN arpu_3m < 100 THEN '50_99'
           WHEN arpu_3m < 200 THEN '100_199' ELSE '200_plus' END"""
    ).fetchone() == (0,)
    assert t.value_codes[0] == "under_20"


def test_seed_example_tags_find_someone(built) -> None:
    _wh, r = built
    cov = {c.name: c.coverage for c in r.columns}
    for tag in (
        "car_owner",
        "campus_student",
        "rural_stay_home",
        "heavy_video_user",
        "family_member",
        "golf_visitor",
    ):
        assert cov[tag] > 0, tag
    assert 0 < cov["handset_5g_user"] < 1


def test_run_is_recorded_with_coverage(built, catalogue: Catalogue) -> None:
    wh, r = built
    from tagcloud.tags.runs import RunLog

    log = RunLog(wh / "tags" / "runs.sqlite")
    (b,) = [b for b in log.builds() if b["build_id"] == r.build_id]
    assert b["rows"] == r.rows and b["engine"] == "duckdb" and b["rows_scanned"] > 0
    hist = log.column_history("calls")
    assert hist[0]["coverage"] > 0.5
    by_category = r.coverage_by_category(catalogue)
    assert len(by_category) >= 35
    assert {a for a, *_ in by_category} == {"basic", "social", "interest", "communication"}
    assert sum(n for _, _, n, _ in by_category) == len(catalogue.built_tags()) - len(r.skipped_tags)


def test_incremental_rebuild_and_drift(built, catalogue: Catalogue, tmp_path: Path) -> None:
    src, _ = built
    wh = tmp_path / "wh"
    shutil.copytree(src, wh, symlinks=True)
    again = build(wh, period="2026-10", catalogue=catalogue, quiet=True, skip_missing_models=True)
    assert again.sources_built == [] and len(again.sources_reused) == len(catalogue.sources)
    assert all(c.drift == 0 for c in again.columns)
    # rewrite one day of SMS with half its rows: only sources reading sms are recomputed
    day = sorted((wh / "tables" / "sms").glob("day=2026-10-03/*.parquet"))[0]
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{day}') WHERE record_id % 2 = 0) TO '{day}.new' (FORMAT parquet)"
    )
    os.replace(f"{day}.new", day)
    third = build(wh, period="2026-10", catalogue=catalogue, quiet=True, skip_missing_models=True)
    assert set(third.sources_built) == {"sms", "night_cell", "day_cell", "peers"}
    sent = {c.name: c for c in third.columns}["sms_sent"]
    assert sent.previous is not None
    # a different window is a separate period: every source is computed for it, but the xDR days it
    # shares with the month are not translated again
    translated = wh / "tags" / "translated"
    stamps = {p.name: p.stat().st_mtime_ns for p in translated.glob("*.parquet")}
    assert sorted(stamps) == [f"day=2026-10-0{d}.parquet" for d in range(1, 9)]
    fourth = build(wh, day="2026-10-05", catalogue=catalogue, quiet=True, skip_missing_models=True)
    assert len(fourth.sources_built) == len(catalogue.sources)
    assert fourth.window.start.isoformat() == "2026-09-06"
    assert {p.name: p.stat().st_mtime_ns for p in translated.glob("*.parquet")} == stamps
    # new xDR for one day: that day alone is translated again
    day = sorted((wh / "tables" / "data_xdr").glob("day=2026-10-04/*.parquet"))[0]
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{day}') WHERE record_id % 3 <> 0) TO '{day}.new' (FORMAT parquet)"
    )
    os.replace(f"{day}.new", day)
    build(wh, period="2026-10", catalogue=catalogue, quiet=True, skip_missing_models=True)
    after = {p.name: p.stat().st_mtime_ns for p in translated.glob("*.parquet")}
    assert {k for k in after if after[k] != stamps[k]} == {"day=2026-10-04.parquet"}


def test_slices_of_subscribers_build_the_same_table(built, catalogue: Catalogue, tmp_path: Path) -> None:
    """Each source run once per range of subscribers (as the DuckDB engine does from 100k on) gives
    the table computed in one piece, to the last value; the slices are cached and reused."""
    import pyarrow.parquet as pq

    from tagcloud.tags.compare import diff_tables

    src, whole = built
    wh = tmp_path / "wh"
    shutil.copytree(src, wh, symlinks=True)
    sliced = build(
        wh, period="2026-10", catalogue=catalogue, quiet=True, skip_missing_models=True, slice_subscribers=90
    )
    assert len(sliced.sources_built) == len(
        catalogue.sources
    )  # the slicing is part of each part's fingerprint
    parts = wh / "tags" / "parts" / "duckdb" / "2026-10"
    voice = sorted(p.name for p in parts.glob("voice.*parquet"))
    assert voice == [f"voice.s{i:03d}.parquet" for i in range(5)]  # 400 subscribers / 90 → 5 slices
    # every subscriber's row comes from exactly one slice
    per_slice = [set(pq.read_table(parts / f, columns=["msisdn"]).column(0).to_pylist()) for f in voice]
    assert sum(map(len, per_slice)) == len(set().union(*per_slice))
    a = pq.read_table(whole.path / "wide.parquet")
    b = pq.read_table(sliced.path / "wide.parquet")
    assert diff_tables(a, b, rel=1e-12) == []
    assert a.column("msisdn").to_pylist() == b.column("msisdn").to_pylist()  # the same row order
    again = build(
        wh, period="2026-10", catalogue=catalogue, quiet=True, skip_missing_models=True, slice_subscribers=90
    )
    assert again.sources_built == []
    # back to one piece: the slices give way to one part per source
    build(
        wh, period="2026-10", catalogue=catalogue, quiet=True, skip_missing_models=True, slice_subscribers=0
    )
    assert sorted(p.name for p in parts.glob("voice.*parquet")) == ["voice.parquet"]


def _extra(catalogue: Catalogue, doc: dict) -> Catalogue:
    import copy

    cat = copy.deepcopy(catalogue)
    cat.depends = {}
    cat.conditions = {}
    add_document(cat, doc, "extra.yaml")
    compile_catalogue(cat)
    return cat


def test_failed_build_leaves_the_published_table(built, catalogue: Catalogue, tmp_path: Path) -> None:
    src, _r = built
    wh = tmp_path / "wh"
    shutil.copytree(src, wh, symlinks=True)
    before = (wh / "wide" / "current").resolve()
    # valid SQL that fails at run time (a text that is no number)
    cat = _extra(
        catalogue,
        {"attributes": [{"id": "broken", "name_zh": "坏", "name_en": "broken", "category": "voice", "source": "voice",
                         "expr": "sum(CAST(peer_number || 'x' AS INTEGER))", "kind": "number"}]},
    )  # fmt: skip
    with pytest.raises(BuildError, match="source 'voice' failed on duckdb"):
        build(wh, period="2026-10", catalogue=cat, quiet=True, skip_missing_models=True)
    assert (wh / "wide" / "current").resolve() == before
    assert (before / "wide.parquet").is_file()
    assert len(list((wh / "wide").glob("build-*"))) == len(list((src / "wide").glob("build-*")))


def test_model_outputs_are_joined_or_named_when_missing(built, catalogue: Catalogue, tmp_path: Path) -> None:
    src, _ = built
    wh = tmp_path / "wh"
    shutil.copytree(src, wh, symlinks=True)
    cat = _extra(
        catalogue,
        {"tags": [
            {"id": "home_cell_model", "name_zh": "居住地类型(模型)", "name_en": "Home type (model)", "category": "location",
             "kind": "enum", "model": "location", "column": "home_type", "values": [{"value": "urban"}, {"value": "rural"}],
             "definition_zh": "位置模型输出", "definition_en": "location model output"},
            {"id": "rural_by_model", "name_zh": "农村(模型)", "name_en": "Rural (model)", "category": "rural",
             "rule": "home_cell_model = 'rural'", "definition_zh": "模型判定农村", "definition_en": "rural by the model"},
        ]},
    )  # fmt: skip
    with pytest.raises(
        BuildError, match=r"missing model output: .*models/location.parquet \(needed by home_cell_model\)"
    ):
        build(wh, period="2026-10", catalogue=cat, quiet=True)
    skipped = build(wh, period="2026-10", catalogue=cat, quiet=True, skip_missing_models=True)
    assert {"home_cell_model", "rural_by_model"} <= set(skipped.skipped_tags)
    con = _wide(wh)
    msisdns = [m for (m,) in con.execute("SELECT msisdn FROM w ORDER BY msisdn LIMIT 2").fetchall()]
    (wh / "models").mkdir()
    con.execute(
        f"COPY (SELECT * FROM (VALUES ('{msisdns[0]}', 'rural'), ('{msisdns[1]}', 'urban')) v(msisdn, home_type)) "
        f"TO '{wh / 'models' / 'location.parquet'}' (FORMAT parquet)"
    )
    with_model = build(wh, period="2026-10", catalogue=cat, quiet=True, skip_missing_models=True)
    assert "home_cell_model" not in with_model.skipped_tags
    con = _wide(wh)
    rows = dict(
        con.execute("SELECT msisdn, rural_by_model FROM w WHERE home_cell_model IS NOT NULL").fetchall()
    )
    assert rows == {msisdns[0]: True, msisdns[1]: False}


def test_current_names_feed_the_condition_language(built) -> None:
    wh, _ = built
    from tagcloud.tags import current_names
    from tagcloud.tags.condition import NameKind, parse_condition

    names = current_names(wh, groups=["spring_push"])
    assert names["car_owner"].kind == NameKind.FLAG
    assert names["arpu_3m"].kind == NameKind.NUMBER
    assert names["brand"].values == ("gotone", "mzone", "easyown")
    c = parse_condition("car_owner AND arpu_3m >= 80 AND county_id = 'x' OR in_group('spring_push')", names)
    assert c.groups == {"spring_push"}


def test_windows() -> None:
    w = month_window("2026-02")
    assert (w.start.isoformat(), w.end.isoformat(), w.days) == ("2026-02-01", "2026-03-01", 28)
    assert [m.isoformat() for m in w.bill_months] == ["2025-12-01", "2026-01-01", "2026-02-01"]
    d = day_window("2026-10-31")
    assert (d.start.isoformat(), d.end.isoformat()) == ("2026-10-02", "2026-11-01")
    with pytest.raises(BuildError, match="YYYY-MM"):
        month_window("2026/10")
    with pytest.raises(BuildError, match="YYYY-MM-DD"):
        day_window("31.10.2026")
    assert AttrKind.NUMBER.value == "number"
