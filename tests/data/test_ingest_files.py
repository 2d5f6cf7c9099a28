"""File-level behaviour of ingestion: damaged files, encodings, delimiters, layouts, reruns."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tagcloud.data.ingest import detect_encoding, identify_table, transcode
from tagcloud.data.ledger import FileStatus
from tagcloud.data.model import TABLES, arrow_schema
from tagcloud.data.warehouse import Warehouse

from .ingest_helpers import VOICE_COLUMNS, base_warehouse, clone, run, voice_row, write_text


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return base_warehouse(tmp_path_factory.mktemp("files"))


@pytest.fixture
def wh(base: Warehouse, tmp_path: Path) -> Warehouse:
    return clone(base, tmp_path / "wh")


def voice_parquet(path: Path, ids: range, day: str = "2026-10-01") -> None:
    import duckdb

    rows = [voice_row(i, day) for i in ids]
    tbl = pa.table({c: [r[c] or None for r in rows] for c in VOICE_COLUMNS})
    con = duckdb.connect()
    con.register("t", tbl)
    casts = ", ".join(f'CAST("{c.name}" AS {c.type}) AS "{c.name}"' for c in TABLES["voice_cdr"].columns)
    out = con.sql(f"SELECT {casts} FROM t").to_arrow_table().cast(arrow_schema(TABLES["voice_cdr"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, path)


def test_identify_table_by_folder_then_longest_prefix() -> None:
    assert identify_table(Path("x/voice_cdr/anything.csv")) == "voice_cdr"
    assert identify_table(Path("flat/subscriber_handsets_202610.csv")) == "subscriber_handsets"
    assert identify_table(Path("flat/subscribers.parquet")) == "subscribers"
    assert identify_table(Path("flat/sms_20261001.txt")) == "sms"
    assert identify_table(Path("flat/smsc_log.csv")) is None


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("voice_cdr_20261001.csv", b"", "empty file"),
        ("voice_cdr_20261001.csv", bytes(range(256)) * 8, "binary content"),
        (
            "voice_cdr_20261001.csv",
            b"a,b,c\n1,2,3\n",
            "header does not match table voice_cdr: missing record_id",
        ),
        ("voice_cdr_20261001.parquet", b"PAR1 this is not parquet at all", "not a Parquet file"),
        ("voice_cdr_20261001.parquet", b"", "empty file"),
    ],
)
def test_damaged_file_fails_with_a_clear_error_and_others_go_on(
    wh: Warehouse, tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    drop = tmp_path / "drop"
    (drop / "voice_cdr").mkdir(parents=True)
    (drop / "voice_cdr" / name).write_bytes(content)
    write_text(drop / "voice_cdr" / "voice_cdr_20261002.csv", [voice_row(i, "2026-10-02") for i in range(5)])
    report = run(drop, wh)
    bad, good = sorted(report.files, key=lambda f: f.status != FileStatus.FAILED)
    assert bad.status is FileStatus.FAILED and problem in (bad.error or "") and name in (bad.error or "")
    assert good.status is FileStatus.INGESTED and good.accepted == 5
    with wh.ledger() as led:
        rows = led.con.execute(
            "SELECT status, error FROM files WHERE source_path LIKE ?", (f"%{name}",)
        ).fetchall()
    assert rows == [("failed", bad.error)]


def test_truncated_parquet_and_wrong_parquet_columns(wh: Warehouse, tmp_path: Path) -> None:
    drop = tmp_path / "drop" / "voice_cdr"
    voice_parquet(drop / "voice_cdr_20261001.parquet", range(50))
    data = (drop / "voice_cdr_20261001.parquet").read_bytes()
    (drop / "voice_cdr_20261001.parquet").write_bytes(data[: len(data) // 2])
    pq.write_table(
        pa.table({"record_id": [1], "msisdn": ["13800000001"]}), drop / "voice_cdr_20261002.parquet"
    )
    report = run(drop.parent, wh)
    errors = sorted(f.error or "" for f in report.files)
    assert "truncated or damaged" in errors[0]
    assert "columns do not match table voice_cdr: missing peer_number" in errors[1]
    assert report.read == 0 and wh.tables() == ["regions", "cells", "products"]


def test_parquet_with_other_types_is_cast_and_checked(wh: Warehouse, tmp_path: Path) -> None:
    rows = [voice_row(i) for i in range(4)]
    rows[2]["duration_s"] = "long"
    tbl = pa.table({c: [r[c] or None for r in rows] for c in VOICE_COLUMNS})  # every column text
    drop = tmp_path / "drop" / "voice_cdr"
    drop.mkdir(parents=True)
    pq.write_table(tbl, drop / "voice_cdr_20261001.parquet")
    report = run(drop.parent, wh)
    assert report.files[0].reasons == {"bad_type": 1}
    con = wh.connect()
    assert con.execute("SELECT typeof(duration_s), typeof(start_time) FROM voice_cdr LIMIT 1").fetchone() == (
        "INTEGER",
        "TIMESTAMP",
    )
    assert con.execute("SELECT row_number, duration_s FROM quarantine_voice_cdr").fetchall() == [(3, "long")]


@pytest.mark.parametrize("delimiter", [",", "|", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_delimiters_and_encodings_with_chinese_text(
    wh: Warehouse, tmp_path: Path, delimiter: str, encoding: str
) -> None:
    cols = TABLES["regions"].column_names
    rows = [
        delimiter.join(["X01", "广东省", "Guangdong", "province", "", ""]),
        delimiter.join(["X02", "广州市", "Guangzhou", "city", "X01", "true"]),
        delimiter.join(["X03", "从化区", "Conghua", "county", "X02", "false"]),
    ]
    write_text(tmp_path / "drop" / "regions_extra.csv", rows, delimiter, encoding, columns=cols)
    report = run(tmp_path / "drop", wh)  # --encoding auto
    f = report.files[0]
    assert (f.read, f.accepted, f.encoding) == (3, 3, encoding)
    names = wh.connect().execute("SELECT name FROM regions WHERE region_id LIKE 'X%' ORDER BY 1").fetchall()
    assert sorted(n for (n,) in names) == sorted(["广东省", "广州市", "从化区"])


def test_gbk_file_with_broken_bytes_quarantines_only_those_lines(wh: Warehouse, tmp_path: Path) -> None:
    cols = TABLES["regions"].column_names
    good = [f"Y{i:02d},东{i}镇,Dong{i},township,R001,false".encode("gbk") for i in range(6)]
    good[2] = good[2][:5] + b"\xff" + good[2][5:]
    data = b"\n".join([",".join(cols).encode("gbk"), *good]) + b"\n"
    assert detect_encoding(data) == "gbk"
    path = tmp_path / "drop" / "regions_gbk.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    report = run(tmp_path / "drop", wh, encoding="gbk")
    assert report.files[0].reasons == {"encoding_error": 1}
    q = wh.connect().execute("SELECT row_number, raw_line FROM quarantine").fetchall()
    assert q[0][0] == 4 and "\\xff" in q[0][1]


def test_transcode_keeps_line_numbers_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    import tagcloud.data.ingest as ing

    monkeypatch.setattr(ing, "BLOCK_BYTES", 16)
    lines = ["第一行,a".encode("gbk"), b"bad\xff\xfeline", "第三行,c".encode("gbk"), b"ok"]
    out = transcode(b"\n".join(lines) + b"\n", "gbk").decode("utf-8").split("\n")
    assert out[0] == "第一行,a" and out[1].startswith("\x01bad") and out[2] == "第三行,c" and out[3] == "ok"


@pytest.mark.parametrize("d", [",", "|", "\t"])
def test_quoted_fields(wh: Warehouse, tmp_path: Path, d: str) -> None:
    cols = TABLES["regions"].column_names
    rows = [
        d.join(['"Q1"', f'"Name{d} with delimiter"', '"He said ""hi"""', '"province"', "", ""]),
        d.join(['"Q2"', '"plain"', '""', "province", '"Q1"', "true"]),
        d.join(["Q3", '"unterminated', "x", "province", "", ""]),
        d.join(["Q4", 'stray"quote', "x", "province", "", ""]),
    ]
    write_text(tmp_path / "drop" / "regions_q.csv", rows, d, columns=cols)
    report = run(tmp_path / "drop", wh)
    assert report.files[0].reasons == {"truncated_row": 2}
    con = wh.connect()
    got = con.execute(
        "SELECT region_id, name, name_en, parent_id FROM regions WHERE region_id LIKE 'Q%' ORDER BY 1"
    )
    assert got.fetchall() == [
        ("Q1", f"Name{d} with delimiter", 'He said "hi"', None),
        ("Q2", "plain", None, "Q1"),
    ]
    assert con.execute("SELECT row_number FROM quarantine ORDER BY 1").fetchall() == [(4,), (5,)]


def test_flat_folder_and_unrecognised_files_are_reported(wh: Warehouse, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    write_text(drop / "voice_cdr_20261001.csv", [voice_row(1)])
    (drop / "readme.md").write_text("hello")
    (drop / "mystery_20261001.csv").write_text("a\n1\n")
    (drop / "ground_truth").mkdir()
    (drop / "ground_truth" / "personas.parquet").write_bytes(b"never read")
    (drop / "manifest.json").write_text("{}")
    report = run(drop, wh)
    status = sorted((Path(f.source_path).name, f.status.value) for f in report.files)
    assert status == [
        ("mystery_20261001.csv", "unrecognised"),
        ("readme.md", "unrecognised"),
        ("voice_cdr_20261001.csv", "ingested"),
    ]


def test_reingest_is_idempotent(wh: Warehouse, tmp_path: Path) -> None:
    drop = tmp_path / "drop" / "voice_cdr"
    voice_parquet(drop / "voice_cdr_20261001.parquet", range(100))
    first = run(drop.parent, wh)
    files = {p: p.stat().st_mtime_ns for p in wh.table_files("voice_cdr")}
    second = run(drop.parent, wh)
    assert first.accepted == 100 and second.files[0].status is FileStatus.UNCHANGED and second.read == 0
    assert {p: p.stat().st_mtime_ns for p in wh.table_files("voice_cdr")} == files
    assert wh.connect().execute("SELECT count(*) FROM voice_cdr").fetchone() == (100,)


def test_corrected_file_replaces_its_partitions(wh: Warehouse, tmp_path: Path) -> None:
    drop = tmp_path / "drop" / "voice_cdr"
    rows = [voice_row(i) for i in range(10)] + [voice_row(i, "2026-10-02") for i in range(10, 20)]
    write_text(drop / "voice_cdr_20261001.csv", rows)
    run(drop.parent, wh)
    assert wh.periods("voice_cdr") == ["2026-10-01", "2026-10-02"]
    # corrected: fewer rows, and nothing left on 2 October
    write_text(drop / "voice_cdr_20261001.csv", [voice_row(i) for i in range(7)])
    report = run(drop.parent, wh)
    assert report.files[0].status is FileStatus.INGESTED
    assert wh.periods("voice_cdr") == ["2026-10-01"]
    assert wh.connect().execute("SELECT count(*) FROM voice_cdr").fetchone() == (7,)
    with wh.ledger() as led:
        dirty = [(d.period, d.reason) for d in led.dirty_periods("voice_cdr") if d.run_id == report.run_id]
    assert dirty == [("2026-10-01", "corrected"), ("2026-10-02", "corrected")]


def test_late_file_marks_its_day_dirty_and_duplicates_across_files(wh: Warehouse, tmp_path: Path) -> None:
    drop = tmp_path / "drop" / "voice_cdr"
    write_text(drop / "voice_cdr_20261005.csv", [voice_row(i, "2026-10-05") for i in range(5)])
    run(drop.parent, wh)
    shutil.rmtree(drop)
    # a late file for 3 October, and a second file for 5 October repeating two keys of the first
    write_text(drop / "voice_cdr_20261003.csv", [voice_row(i, "2026-10-03") for i in range(100, 105)])
    write_text(drop / "voice_cdr_20261005b.csv", [voice_row(i, "2026-10-05") for i in (3, 4, 50)])
    report = run(drop.parent, wh)
    by = {Path(f.source_path).name: f for f in report.files}
    assert by["voice_cdr_20261003.csv"].dirty == [("2026-10-03", "late")]
    assert by["voice_cdr_20261005b.csv"].reasons == {"duplicate": 2}
    assert by["voice_cdr_20261005b.csv"].dirty == [("2026-10-05", "new")]
    with wh.ledger() as led:
        got = [(d.period, d.reason) for d in led.dirty_periods("voice_cdr")]
        assert ("2026-10-03", "late") in got
        led.consume_dirty([d.id for d in led.dirty_periods("voice_cdr")])
        assert led.dirty_periods("voice_cdr") == []


def test_unknown_reference_after_reference_of_same_drop(wh: Warehouse, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    write_text(
        drop / "cells_new.csv",
        ["NEWCELL1,23.1,113.2,5G,R001,R002,R003,university,,,2020-01-01"],
        columns=TABLES["cells"].column_names,
    )
    write_text(
        drop / "voice_cdr_20261001.csv",
        [voice_row(1) | {"cell_id": "NEWCELL1"}, voice_row(2) | {"cell_id": "GONE0001"}],
    )
    report = run(drop, wh)
    assert [f.table for f in report.files] == ["cells", "voice_cdr"]  # reference tables first
    assert report.files[1].reasons == {"unknown_cell": 1}


def test_warehouse_api_and_catalog(wh: Warehouse, tmp_path: Path) -> None:
    import duckdb

    drop = tmp_path / "drop" / "voice_cdr"
    voice_parquet(drop / "voice_cdr_20261001.parquet", range(30))
    run(drop.parent, wh)
    assert "voice_cdr" in wh.tables() and wh.periods("voice_cdr") == ["2026-10-01"]
    assert wh.table_files("voice_cdr")[0].relative_to(wh.root).as_posix() == (
        "tables/voice_cdr/day=2026-10-01/voice_cdr_20261001.parquet"
    )
    con = duckdb.connect(str(wh.catalog_path), read_only=True)
    assert con.execute("SELECT count(*), min(day) FROM voice_cdr").fetchone() == (30, "2026-10-01")


def test_strict_exit_code(wh: Warehouse, tmp_path: Path) -> None:
    from tagcloud.cli import app

    drop = tmp_path / "drop"
    write_text(drop / "voice_cdr_20261001.csv", [voice_row(1), voice_row(2) | {"direction": "??"}])
    env = {"TAGCLOUD_WAREHOUSE": str(wh.root)}
    res = CliRunner().invoke(app, ["ingest", str(drop), "--strict"], env=env)
    assert res.exit_code == 1, res.output
    assert "bad code" in res.output or "bad_code" in res.output
    res = CliRunner().invoke(app, ["ingest", str(drop)], env=env)  # unchanged now, not strict
    assert res.exit_code == 0, res.output
    assert os.path.exists(wh.ledger_path)


def test_one_ingest_at_a_time_per_warehouse(wh: Warehouse, tmp_path: Path) -> None:
    import fcntl

    from tagcloud.data.ingest import IngestError

    write_text(tmp_path / "drop" / "voice_cdr_20261001.csv", [voice_row(1)])
    with (wh.root / ".ingest.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(IngestError, match="another ingest is running"):
            run(tmp_path / "drop", wh)
    assert run(tmp_path / "drop", wh).accepted == 1


def test_parse_text_keeps_line_numbers_and_flags_broken_lines() -> None:
    from tagcloud.data.ingest import parse_text

    text = 'a,b\n"1","x,y"\n\n"2"\n"3,open\n"4","ok"\r\n\x01bad,line\n"6","""q"""\n'
    tbl = parse_text(text.encode(), ",", ["a", "b"])
    assert tbl is not None
    rows = sorted(
        zip(
            tbl.column("_row").to_pylist(),
            tbl.column("_pre").to_pylist(),
            tbl.column("b").to_pylist(),
            strict=True,
        )
    )
    assert rows == [
        (2, "", "x,y"),
        (4, "truncated_row", None),  # one field where two are named
        (5, "truncated_row", "open"),  # odd number of quotes: broken, and it must not swallow line 6
        (6, "", "ok"),
        (7, "encoding_error", "line"),
        (8, "", '"q"'),
    ]
    assert parse_text(b'a,b\n"1","x\ry"\n', ",", ["a", "b"]) is None  # a lone CR: let SQL split it


def test_sql_splitter_fallback_for_a_lone_carriage_return(wh: Warehouse, tmp_path: Path) -> None:
    """A CR inside a value would end a row for Arrow's reader: such files are split in SQL, with
    the same checks and line numbers."""
    cols = TABLES["regions"].column_names
    rows = [
        "Z1,line\rbreak,,province,,",
        '"Z2","quoted, comma",,"province",,',
        "Z3,short",
        "Z4,ok,,township,Z1,true",
    ]
    path = tmp_path / "drop" / "regions_cr.csv"
    write_text(path, rows, columns=cols)
    path.write_bytes(path.read_bytes().replace(b"Z4,ok", b"Z4,\xff\xfeok"))
    report = run(tmp_path / "drop", wh, encoding="utf-8")
    assert report.files[0].reasons == {"encoding_error": 1, "truncated_row": 1}
    con = wh.connect()
    got = con.execute("SELECT region_id, name FROM regions WHERE region_id LIKE 'Z%' ORDER BY 1").fetchall()
    assert got == [("Z1", "line\rbreak"), ("Z2", "quoted, comma")]
    q = con.execute("SELECT row_number, reason, raw_line FROM quarantine ORDER BY 1").fetchall()
    assert q == [(4, "truncated_row", "Z3,short"), (5, "encoding_error", "Z4,\\xff\\xfeok,,township,Z1,true")]


def test_cli_damage_and_bad_options(tmp_path: Path) -> None:
    from tagcloud.cli import app
    from tagcloud.data.fixtures import build_export

    build_export(
        tmp_path / "clean", subscribers=60, days=1, rows_per_day=100, tables=("regions", "cells", "voice_cdr")
    )
    res = CliRunner().invoke(app, ["damage", str(tmp_path / "clean"), str(tmp_path / "bad"), "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "damaged rows" in res.output and (tmp_path / "bad" / "damage_manifest.json").exists()
    res = CliRunner().invoke(app, ["damage", str(tmp_path / "clean"), str(tmp_path / "bad")])
    assert res.exit_code == 2 and "not empty" in res.output
    res = CliRunner().invoke(
        app, ["ingest", str(tmp_path / "clean"), "--encoding", "latin-1", "--warehouse", str(tmp_path / "w")]
    )
    assert res.exit_code == 2 and "latin-1" in res.output
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "nowhere"), "--warehouse", str(tmp_path / "w")])
    assert res.exit_code == 2 and "not a directory" in res.output


def test_auto_encoding_looks_past_an_ascii_start() -> None:
    ascii_part = b"".join(b"R%06d,name,ascii,township,,\n" % i for i in range(60_000))  # > 1 MB
    assert len(ascii_part) > (1 << 20)
    data = (
        b"region_id,name,name_en,level,parent_id,is_urban\n"
        + ascii_part
        + "X1,广州市,Guangzhou,city,,\n".encode("gbk")
    )
    assert detect_encoding(data) == "gbk"
    assert detect_encoding(data.decode("gbk").encode("utf-8")) == "utf-8"
    assert detect_encoding(b"a,b\n1,2\n") == "utf-8"


def test_warehouse_status_and_command(wh: Warehouse, tmp_path: Path) -> None:
    from tagcloud.cli import app
    from tagcloud.data.warehouse import status

    drop = tmp_path / "drop"
    write_text(
        drop / "voice_cdr_20261001.csv", [voice_row(1), voice_row(2), voice_row(3) | {"direction": "??"}]
    )
    write_text(drop / "voice_cdr_20261002.csv", [voice_row(4, "2026-10-02")])
    run(drop, wh)
    st = status(wh)
    voice = next(t for t in st["tables"] if t["table"] == "voice_cdr")  # type: ignore[attr-defined]
    assert (
        voice["files"],
        voice["rows"],
        voice["periods"],
        voice["first"],
        voice["last"],
        voice["quarantined"],
    ) == (
        2,
        3,
        2,
        "2026-10-01",
        "2026-10-02",
        1,
    )
    assert st["dirty"][("voice_cdr", "new")] == 2  # type: ignore[index]
    res = CliRunner().invoke(app, ["warehouse", "--warehouse", str(wh.root)])
    assert res.exit_code == 0 and "voice_cdr" in res.output and "Dirty periods" in res.output
