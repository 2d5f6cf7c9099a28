"""The township info sheet: reading CSV/XLSX, per-row errors, typed values."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from tagcloud.regions.rural import SheetError, read_sheet, validate_rows

TOWNS = {"T01": "甲镇", "T02": "乙镇"}
HEADER = "乡镇代码,乡镇名称,是否属行政区,人口数,农业人口数,男性人口数,GDP,通信市场占有率,移动手机普及率\n"


def test_a_good_csv_in_chinese_headers() -> None:
    rows = read_sheet((HEADER + "T01,甲镇,是,12000,8000,6100,35000.5,0.62,85%\n").encode(), "towns.csv")
    recs, errors = validate_rows(rows, TOWNS)
    assert errors == []
    assert recs[0]["population"] == 12000 and recs[0]["is_administrative"] is True
    assert recs[0]["gdp"] == Decimal("35000.50") and recs[0]["mobile_penetration"] == pytest.approx(0.85)


def test_every_bad_row_is_reported_with_its_row_number() -> None:
    text = HEADER + (
        "T01,甲镇,是,12000,8000,6100,35000,0.62,0.8\n"
        "T09,外镇,是,1,1,1,1,0.1,0.1\n"  # not in the user's region
        "T02,乙镇,也许,abc,900,100,1,1.5,0.1\n"  # bad boolean, bad integer, share above 1
        "T01,甲镇,是,10,20,5,1,0.1,0.1\n"  # duplicate code; agricultural > population
    )
    recs, errors = validate_rows(read_sheet(text.encode("gb18030"), "towns.csv"), TOWNS)
    by_row = {(e.row, e.field) for e in errors}
    assert (3, "township_id") in by_row
    assert {(4, "is_administrative"), (4, "population"), (4, "market_share")} <= by_row
    assert {(5, "township_id"), (5, "agricultural_population")} <= by_row
    assert [r["township_id"] for r in recs] == ["T01"]  # the caller imports nothing when errors exist


def test_xlsx_and_unreadable_sheets() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["township_id", "name", "households", "pillar_industry"])
    ws.append(["T02", "乙镇", 3100, "茶叶"])
    buf = io.BytesIO()
    wb.save(buf)
    recs, errors = validate_rows(read_sheet(buf.getvalue(), "t.xlsx"), TOWNS)
    assert errors == [] and recs[0]["households"] == 3100 and recs[0]["pillar_industry"] == "茶叶"
    with pytest.raises(SheetError, match="not an XLSX"):
        read_sheet(b"MZ\x90\x00", "t.xlsx")
    with pytest.raises(SheetError, match=r"\.csv or \.xlsx"):
        read_sheet(b"x", "t.exe")
    with pytest.raises(SheetError, match="unknown column"):
        read_sheet("乡镇代码,身高\nT01,1\n".encode(), "t.csv")
    with pytest.raises(SheetError, match="乡镇代码"):
        read_sheet("人口数\n1\n".encode(), "t.csv")


def test_channel_monitoring_counts_by_township_and_channel() -> None:
    import duckdb

    from tagcloud.regions.rural import channel_monitoring

    con = duckdb.connect()
    con.execute("""
        CREATE TABLE regions AS SELECT * FROM (VALUES ('T01', 'township', false), ('T02', 'township', true))
            t(region_id, level, is_urban);
        CREATE TABLE subscribers AS SELECT * FROM (VALUES
            ('13800000001', 'T01', DATE '2026-08-03', DATE '2026-09-01'),
            ('13800000002', 'T01', DATE '2026-08-20', DATE '2026-09-01'),
            ('13800000003', 'T01', DATE '2026-08-21', DATE '2026-09-01'),
            ('13800000004', 'T01', DATE '2026-07-30', DATE '2026-09-01'),  -- joined the month before
            ('13800000005', 'T02', DATE '2026-08-05', DATE '2026-09-01')   -- urban: not rural monitoring
        ) t(msisdn, home_region_id, join_date, snapshot_date);
        CREATE TABLE products AS SELECT * FROM (VALUES ('P1', 'plan'), ('D1', 'data_pack')) t(product_id, kind);
        CREATE TABLE orders AS SELECT * FROM (VALUES
            ('13800000001', 'P1', 'subscribe', TIMESTAMP '2026-08-03 10:00', 'agent'),
            ('13800000001', 'D1', 'subscribe', TIMESTAMP '2026-08-10 10:00', 'app'),
            ('13800000002', 'P1', 'subscribe', TIMESTAMP '2026-08-20 10:00', 'agent'),
            ('13800000003', 'P1', 'subscribe', TIMESTAMP '2026-08-21 10:00', 'hall')
        ) t(msisdn, product_id, action, order_time, channel);
        CREATE TABLE subscriber_handsets AS SELECT * FROM (VALUES
            ('13900000009', 'IMEI-A', TIMESTAMP '2026-05-01 00:00'),  -- an old number's handset ...
            ('13800000002', 'IMEI-A', TIMESTAMP '2026-08-20 10:05'),  -- ... now with a new SIM
            ('13800000001', 'IMEI-B', TIMESTAMP '2026-08-03 10:05')
        ) t(msisdn, imei, first_seen);
        CREATE TABLE billing_monthly AS SELECT * FROM (VALUES
            (DATE '2026-08-01', '13800000001', 58.00::DECIMAL(10,2)),
            (DATE '2026-08-01', '13800000002', 20.50::DECIMAL(10,2)),
            (DATE '2026-09-01', '13800000003', 99.00::DECIMAL(10,2))   -- next month: not counted
        ) t(bill_month, msisdn, arpu);
    """)
    rows = {(r["township_id"], r["channel"]): r for r in channel_monitoring(con, "2026-08").to_pylist()}
    assert set(rows) == {("T01", "agent"), ("T01", "hall")}
    agent = rows[("T01", "agent")]
    assert agent["customers"] == 2 and agent["revenue"] == Decimal("78.50")
    assert agent["new_service_penetration"] == 0.5 and agent["repeat_sim_ratio"] == 0.5
    assert rows[("T01", "hall")]["customers"] == 1 and rows[("T01", "hall")]["revenue"] == Decimal("0")
    with pytest.raises(ValueError, match="YYYY-MM"):
        channel_monitoring(con, "August")
