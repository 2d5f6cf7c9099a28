"""The reconciliation law: every row read is accepted or quarantined under the right reason."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagcloud.data.quarantine import Reason
from tagcloud.data.warehouse import Warehouse

from .ingest_helpers import VOICE_COLUMNS, base_warehouse, clone, run, voice_row, write_text

# each kind of damage, the reason it must produce, and how to make it from a good row
BREAKERS = {
    "encoding": (Reason.ENCODING_ERROR, None),
    "truncated": (Reason.TRUNCATED_ROW, None),
    "extra_field": (Reason.TRUNCATED_ROW, None),
    "bad_type": (Reason.BAD_TYPE, ("duration_s", "12x")),
    "bad_timestamp": (Reason.BAD_TYPE, ("start_time", "2026-13-45 10:00:00")),
    "missing": (Reason.MISSING_VALUE, ("msisdn", "")),
    "bad_number": (Reason.BAD_NUMBER_FORMAT, ("peer_number", "12")),
    "bad_code": (Reason.BAD_CODE, ("direction", "XX")),
    "out_of_range": (Reason.OUT_OF_RANGE, ("duration_s", "90000")),
    "negative": (Reason.NEGATIVE_DURATION, ("duration_s", "-3")),
    "too_old": (Reason.TIMESTAMP_OUT_OF_RANGE, ("start_time", "1999-05-01 10:00:00")),
    "future": (Reason.TIMESTAMP_OUT_OF_RANGE, ("start_time", "2030-01-01 10:00:00")),
    "unknown_cell": (Reason.UNKNOWN_CELL, ("cell_id", "NOPE9999")),
    "duplicate": (Reason.DUPLICATE, None),
}
KINDS = ["good", *BREAKERS]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return base_warehouse(tmp_path_factory.mktemp("recon"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=40),
    delimiter=st.sampled_from([",", "|", "\t"]),
    encoding=st.sampled_from(["utf-8", "gbk"]),
)
def test_read_equals_accepted_plus_quarantined(
    base: Warehouse, kinds: list[str], delimiter: str, encoding: str
) -> None:
    lines: list[bytes] = []
    expected: dict[int, str] = {}  # line number → reason
    good_ids: list[int] = []
    for i, kind in enumerate(kinds):
        line_no = i + 2  # line 1 is the header
        row = voice_row(i)
        if kind == "duplicate":
            if not good_ids:
                kind = "good"
            else:
                row = voice_row(good_ids[0])
        text = delimiter.join(row[c] for c in VOICE_COLUMNS)
        if kind == "good":
            good_ids.append(i)
        elif kind == "truncated":
            text = delimiter.join(row[c] for c in VOICE_COLUMNS[:4])
        elif kind == "extra_field":
            text += delimiter + "surplus"
        elif BREAKERS[kind][1] is not None:
            col, value = BREAKERS[kind][1]  # type: ignore[misc]
            text = delimiter.join(value if c == col else row[c] for c in VOICE_COLUMNS)
        b = text.encode(encoding)
        if kind == "encoding":
            b = b[:10] + b"\xff\xfe" + b[10:]
        if kind != "good":
            expected[line_no] = BREAKERS[kind][0].value
        lines.append(b)
    header = delimiter.join(VOICE_COLUMNS).encode(encoding)
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "drop" / "voice_cdr"
        src.mkdir(parents=True)
        (src / "voice_cdr_20261001.csv").write_bytes(b"\n".join([header, *lines]) + b"\n")
        wh = clone(base, Path(d) / "wh")
        report = run(src.parent, wh, encoding=encoding)
        (f,) = report.files
        assert f.error is None
        assert f.read == len(kinds) == f.accepted + f.quarantined
        assert f.reasons == dict(Counter(expected.values()))
        con = wh.connect()
        if expected:
            got = dict(con.execute("SELECT row_number, reason FROM quarantine_voice_cdr").fetchall())
            assert got == expected
        ids = (
            sorted(r[0] for r in con.execute("SELECT record_id FROM voice_cdr").fetchall())
            if good_ids
            else []
        )
        assert ids == sorted(1000 + i for i in good_ids)


def test_first_failing_check_wins(tmp_path: Path) -> None:
    """A row with several defects is quarantined under the earliest reason only."""
    wh = base_warehouse(tmp_path)
    row = voice_row(1) | {"duration_s": "-3", "direction": "XX", "msisdn": ""}
    write_text(tmp_path / "drop" / "voice_cdr_20261001.csv", [row, voice_row(2)])
    report = run(tmp_path / "drop", wh)
    assert report.files[0].reasons == {"missing_value": 1}
    col = wh.connect().execute("SELECT column_name FROM quarantine").fetchall()
    assert col == [("msisdn",)]
