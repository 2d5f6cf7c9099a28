"""The simulator's output: layout, schemas, validity against the model, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tagcloud.data.model import TABLES, Partitioning, arrow_schema
from tagcloud.sim.simulate import DAY_TABLES, MONTH_TABLES, REFERENCE_TABLES, simulate


def test_layout_and_schemas(small_province: Path) -> None:
    m = json.loads((small_province / "manifest.json").read_text(encoding="utf-8"))
    assert m["seed"] == 7 and m["subscribers"] == 2000 and m["days"] == 7 and m["start"] == "2026-09-15"
    assert set(m["rows"]) == set(TABLES), "every table of the model is written"
    for name, t in TABLES.items():
        files = sorted((small_province / name).glob("*.parquet"))
        assert files, name
        if name in REFERENCE_TABLES or name == "subscribers":
            assert [f.name for f in files] == [f"{name}.parquet"]
        elif name in DAY_TABLES:
            assert t.partition is Partitioning.DAY
            assert [f.stem for f in files] == [f"{name}_202609{d}" for d in range(15, 22)]
        else:
            assert name in MONTH_TABLES
            assert all(len(f.stem) == len(name) + 7 for f in files)
        total = 0
        for f in files:
            s = pq.read_schema(f)
            assert s.names == list(t.column_names), f
            assert [x.type for x in s] == [x.type for x in arrow_schema(t)], f
            total += pq.read_metadata(f).num_rows
        assert total == m["rows"][name]
        assert sum(m["files"][name].values()) == total
    assert {p.name for p in (small_province / "ground_truth").glob("*.parquet")} >= {
        "subscribers.parquet", "propensity.parquet", "channel_response.parquet", "offnet.parquet",
    }  # fmt: skip


def test_volumes_per_subscriber_day(small_province: Path) -> None:
    m = json.loads((small_province / "manifest.json").read_text(encoding="utf-8"))
    per = {k: m["rows"][k] / (2000 * 7) for k in ("voice_cdr", "sms", "data_xdr")}
    assert 3 <= per["voice_cdr"] <= 6, per
    assert 2 <= per["sms"] <= 5, per
    assert 8 <= per["data_xdr"] <= 20, per


def test_clean_export_ingests_without_quarantine(small_province: Path, tmp_path: Path) -> None:
    ingest = pytest.importorskip("tagcloud.data.ingest")
    report = ingest.ingest(small_province, tmp_path / "wh")
    assert report.read > 200_000
    assert report.quarantined == 0, report.reasons()
    assert report.accepted == report.read


def _digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_same_seed_same_files_different_seed_different(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(a, 300, 2, seed=3, quiet=True)
    simulate(b, 300, 2, seed=3, quiet=True)
    simulate(c, 300, 2, seed=4, quiet=True)
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert da == db
    assert da.keys() == dc.keys() or set(da) & set(dc)
    differing = [k for k in da if k in dc and da[k] != dc[k]]
    assert "voice_cdr/voice_cdr_20260915.parquet" in differing
    assert "subscribers/subscribers.parquet" in differing


def test_csv_gbk_with_tab(tmp_path: Path) -> None:
    simulate(tmp_path, 200, 1, seed=1, fmt="csv", delimiter="tab", encoding="gbk", quiet=True)
    raw = (tmp_path / "regions" / "regions.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # Chinese names really are GBK bytes
    text = raw.decode("gbk")
    assert text.splitlines()[0].replace('"', "").split("\t") == list(TABLES["regions"].column_names)
    assert "云梦省" in text
    assert (tmp_path / "voice_cdr" / "voice_cdr_20260915.csv").exists()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"subscribers": 10}, "subscribers"),
        ({"days": 0}, "days"),
        ({"fmt": "xlsx"}, "format"),
        ({"delimiter": ";"}, "delimiter"),
        ({"encoding": "latin-1"}, "encoding"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kw: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"subscribers": 100, "days": 1, "seed": 1, "quiet": True, **kw}
    with pytest.raises(ValueError, match=match):
        simulate(tmp_path, **args)  # type: ignore[arg-type]


def test_event_ids_unique_across_the_run(small_province: Path) -> None:
    import duckdb

    for name, key in (("voice_cdr", "record_id"), ("sms", "record_id"), ("data_xdr", "record_id"),
                      ("orders", "order_id"), ("payments", "payment_id"), ("service_contacts", "contact_id")):  # fmt: skip
        n, distinct = duckdb.connect().execute(
            f"SELECT count(*), count(DISTINCT {key}) FROM read_parquet('{small_province}/{name}/*.parquet')"
        ).fetchone() or (0, 0)
        assert n == distinct > 0, name
