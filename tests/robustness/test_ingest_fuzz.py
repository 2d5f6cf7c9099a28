"""Ingestion under bad input: the reconciliation law on hand-made and generated broken exports.

Every drop is held by ``tagcloud.data.corpus.check`` to the law: no crash, read = accepted +
quarantined with a reason code, damage costs only the damaged rows, normalised values counted,
a stream that ends early keeps the rows before the break, the ledger agrees with the report.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagcloud.data.corpus import FAMILIES, GB_ONLY, VARIANTS, Spec, build_drop, check, run_family
from tagcloud.data.ingest import IngestOptions, ingest
from tagcloud.data.ledger import FileStatus
from tagcloud.data.warehouse import Warehouse

from .conftest import NOW


def _ingest(src: Path, wh: Warehouse):  # type: ignore[no-untyped-def]
    return ingest(src, wh, IngestOptions(now=NOW, quiet=True, threads=1))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_hand_made_family_holds_the_law(family: str, tmp_path: Path) -> None:
    tally = run_family(family, tmp_path, random.Random(7))
    assert tally.violations == [], "\n".join(tally.violations)
    assert tally.crashes == 0 and tally.lost == 0 and tally.inputs > 0


def test_nul_byte_costs_only_its_line(tmp_path: Path) -> None:
    e = build_drop(tmp_path / "drop", Spec(("good", "nul_byte", "good", "good")))
    wh = Warehouse(tmp_path / "wh")
    report = _ingest(tmp_path / "drop", wh)
    (f,) = report.files
    assert (f.status, f.read, f.accepted, f.reasons) == (FileStatus.INGESTED, 4, 3, {"encoding_error": 1})
    raw = wh.connect().execute("SELECT raw_line FROM quarantine").fetchone()
    assert raw is not None and "\\x00" in raw[0]  # the NUL shown as an escape, the line kept
    assert check(report, wh, [e]).violations == []


def test_phone_forms_are_normalised_and_counted(tmp_path: Path) -> None:
    kinds = ("phone_plus86", "phone_0086_spaces", "phone_dashes", "phone_full_width", "phone_86_parens")
    e = build_drop(tmp_path / "drop", Spec((*kinds, "good")))
    wh = Warehouse(tmp_path / "wh")
    report = _ingest(tmp_path / "drop", wh)
    (f,) = report.files
    assert f.accepted == 6 and f.normalised == 5
    assert f.normalisations["msisdn:phone_country_code"] == 3
    assert f.normalisations["msisdn:full_width"] == 1
    got = sorted(r[0] for r in wh.connect().execute("SELECT msisdn FROM data_xdr").fetchall())
    assert got == [f"138{i:08d}" for i in range(1, 7)]
    with wh.ledger() as led:
        kinds_counted = dict(
            led.con.execute('SELECT kind, sum("values") FROM normalised_counts GROUP BY 1').fetchall()
        )
        (summary,) = led.con.execute("SELECT summary FROM files").fetchone()
    assert kinds_counted["phone_country_code"] == 3
    assert "rewritten to the canonical form" in summary and "msisdn phone country code 3" in summary
    assert check(report, wh, [e]).violations == []


@pytest.mark.parametrize("compression", ["gzip", "bz2", "zip"])
def test_compressed_drop_that_ends_early_keeps_the_rows_before_the_break(
    compression: str, tmp_path: Path
) -> None:
    # bz2 decodes in blocks of 900 kB: a cut file yields its whole blocks, so it needs more rows
    rows = 20_000 if compression == "bz2" else 3_000
    spec = Spec(tuple("good" for _ in range(rows)), compression=compression, cut=0.5)
    e = build_drop(tmp_path / "drop", spec)
    assert e.broken and 0 < e.lines < rows and e.never_arrived > 0
    wh = Warehouse(tmp_path / "wh")
    report = _ingest(tmp_path / "drop", wh)
    (f,) = report.files
    assert f.status is FileStatus.INGESTED and f.broken and "ends early" in f.summary()
    assert f.accepted >= e.lines - 1 and f.reasons in ({}, {"truncated_row": 1})
    assert check(report, wh, [e]).violations == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(sorted(k for k in VARIANTS if k not in GB_ONLY)), min_size=1, max_size=25),
    delimiter=st.sampled_from([",", "|", "\t"]),
    encoding=st.sampled_from(["utf-8", "gbk"]),
    bom=st.booleans(),
    crlf=st.booleans(),
    compression=st.sampled_from([None, "gzip", "bz2", "zip"]),
    cut=st.one_of(st.none(), st.floats(0.3, 0.95)),
)
def test_generated_drop_holds_the_law(
    kinds: list[str],
    delimiter: str,
    encoding: str,
    bom: bool,
    crlf: bool,
    compression: str | None,
    cut: float | None,
) -> None:
    spec = Spec(tuple(kinds), delimiter, encoding, bom, crlf, compression, cut if compression else None)
    with tempfile.TemporaryDirectory() as d:
        e = build_drop(Path(d) / "drop", spec)
        wh = Warehouse(Path(d) / "wh")
        report = _ingest(Path(d) / "drop", wh)
        tally = check(report, wh, [e], refused_ok={e.path.name} if e.lines == 0 or cut else set())
        assert tally.violations == [], "\n".join(tally.violations)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".parquet", ".csv.gz", ".zip", ".bz2"]))
def test_random_bytes_never_crash(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "drop" / "data_xdr" / f"data_xdr_20261001{suffix}"
        p.parent.mkdir(parents=True)
        p.write_bytes(data)
        wh = Warehouse(Path(d) / "wh")
        report = _ingest(Path(d) / "drop", wh)
        tally = check(report, wh, [], refused_ok=set())
        assert tally.crashes == 0 and tally.violations == [], "\n".join(tally.violations)
        for f in report.files:
            assert f.status is not FileStatus.FAILED or f.error


@pytest.mark.slow
def test_many_random_drops_hold_the_law(tmp_path: Path) -> None:
    from tagcloud.data.corpus import random_spec

    rng = random.Random(20)
    for k in range(40):
        spec = random_spec(rng, rows=200)
        e = build_drop(tmp_path / f"d{k}", spec)
        wh = Warehouse(tmp_path / f"w{k}")
        report = _ingest(tmp_path / f"d{k}", wh)
        tally = check(report, wh, [e], refused_ok={e.path.name} if e.lines == 0 or spec.cut else set())
        assert tally.violations == [], f"{spec}\n" + "\n".join(tally.violations)
