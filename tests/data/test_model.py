"""The canonical model is internally consistent and its document is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tagcloud.data.codes import CODE_TABLES, code_values, label
from tagcloud.data.docs import render_data_model
from tagcloud.data.model import LOAD_ORDER, MONTH_START, TABLES, Partitioning, arrow_schema, table

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(TABLES))
def test_table_is_well_formed(name: str) -> None:
    t = TABLES[name]
    names = t.column_names
    assert len(set(names)) == len(names), "duplicate column names"
    assert set(t.key) <= set(names), "key columns must exist"
    for k in t.key:
        assert not t.column(k).nullable, f"key column {k} must be NOT NULL"
    if t.partition is not Partitioning.NONE:
        assert t.time_column in names
        assert t.column(t.time_column).type in {"DATE", "TIMESTAMP"}
    for c in t.columns:
        if c.codes:
            assert c.codes in CODE_TABLES
        if c.pattern and c.pattern != MONTH_START:
            re.compile(c.pattern)
        if c.references:
            ref_table, ref_col = c.references.split(".")
            assert ref_col in TABLES[ref_table].column_names
            # a table must load after the tables its foreign keys point at
            assert LOAD_ORDER.index(ref_table) < LOAD_ORDER.index(name) or ref_table == name
    schema = arrow_schema(t)
    assert schema.names == list(names)


def test_issue_tables_present() -> None:
    required = {
        "subscribers", "products", "orders", "handsets", "subscriber_handsets", "cells", "voice_cdr", "sms",
        "data_xdr", "roaming", "billing_monthly", "payments", "service_contacts", "competitor_ranges",
    }  # fmt: skip
    assert required <= set(TABLES)


def test_number_patterns() -> None:
    mobile = re.compile(table("subscribers").column("msisdn").pattern or "")
    assert mobile.match("13812345678")
    assert not mobile.match("1381234567")  # 10 digits
    assert not mobile.match("12812345678")  # no 12x mobile range
    peer = re.compile(table("voice_cdr").column("peer_number").pattern or "")
    for ok in ("13812345678", "075612345678", "10086", "95555", "00852212345678"):
        assert peer.match(ok), ok
    for bad in ("abc", "", "1381234567x", "0"):
        assert not peer.match(bad), bad


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="voice_cdr"):
        table("voice_cdrs")


def test_labels() -> None:
    assert label("brand", "gotone") == "全球通"
    assert label("brand", "gotone", "en").startswith("GoTone")
    assert "university" in code_values("area_type")


def test_data_model_doc_is_current() -> None:
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert doc == render_data_model(), "run `tagcloud docs data-model` and commit docs/data-model.md"
