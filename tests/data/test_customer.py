"""Customer recent behaviour over a hand-written warehouse: every figure is known in advance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tagcloud.data.customer import recent_behaviour
from tagcloud.data.warehouse import Warehouse

ME, PEER, OTHER = "13612346297", "13900001111", "13700002222"


def _write(con: object, wh: Warehouse, table: str, period: str | None, sql: str) -> None:
    d = wh.partition_dir(table, period)
    d.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({sql}) TO '{d / (table + '.parquet')}' (FORMAT parquet)")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    import duckdb

    w = Warehouse(tmp_path_factory.mktemp("wh"))
    con = duckdb.connect()
    # Two days inside a 30-day window ending 2026-09-30, one day outside it.
    for day, extra in (("2026-08-01", 1), ("2026-09-29", 0), ("2026-09-30", 0)):
        _write(
            con,
            w,
            "voice_cdr",
            day,
            f"SELECT * FROM (VALUES ('{ME}', '{PEER}', 'CMCC', 'MO', 120), ('{ME}', '{PEER}', 'CMCC', 'MT', 60),"
            f" ('{ME}', '075512345', 'FIXED', 'MO', 60 + {extra} * 6000), ('{OTHER}', '{ME}', 'CMCC', 'MO', 999))"
            " AS t(msisdn, peer_number, peer_operator, direction, duration_s)",
        )
        _write(
            con,
            w,
            "data_xdr",
            day,
            f"SELECT * FROM (VALUES ('{ME}', TIMESTAMP '{day} 10:00', 1048576, 1048576),"
            f" ('{OTHER}', TIMESTAMP '{day} 11:00', 1, 1)) AS t(msisdn, start_time, bytes_up, bytes_down)",
        )
    _write(
        con,
        w,
        "sms",
        "2026-09-30",
        f"SELECT * FROM (VALUES ('{ME}', 'MO', 'CMCC'), ('{ME}', 'MT', 'CU'), ('{ME}', 'MT', 'CU'))"
        " AS t(msisdn, direction, peer_operator)",
    )
    _write(
        con,
        w,
        "roaming",
        "2026-09-29",
        f"SELECT * FROM (VALUES (DATE '2026-09-29', '{ME}', 'out', '广东', '深圳', 'CN'),"
        f" (DATE '2026-09-29', '{ME}', 'in', '湖南', '长沙', NULL::VARCHAR))"
        " AS t(record_date, msisdn, direction, visited_province, visited_city, visited_country)",
    )
    _write(
        con,
        w,
        "roaming",
        "2026-09-30",
        f"SELECT * FROM (VALUES (DATE '2026-09-30', '{ME}', 'out', NULL::VARCHAR, NULL::VARCHAR, 'TH'))"
        " AS t(record_date, msisdn, direction, visited_province, visited_city, visited_country)",
    )
    _write(
        con,
        w,
        "orders",
        "2026-01",
        f"SELECT * FROM (VALUES ('{ME}', 'PL_A', 'subscribe', TIMESTAMP '2026-01-02 00:00'),"
        f" ('{ME}', 'DP_X', 'subscribe', TIMESTAMP '2026-01-03 00:00'),"
        f" ('{ME}', 'VAS_Y', 'subscribe', TIMESTAMP '2026-01-04 00:00'),"
        f" ('{OTHER}', 'VAS_Z', 'subscribe', TIMESTAMP '2026-01-04 00:00'))"
        " AS t(msisdn, product_id, action, order_time)",
    )
    _write(
        con,
        w,
        "orders",
        "2026-09",
        f"SELECT * FROM (VALUES ('{ME}', 'PL_B', 'change', TIMESTAMP '2026-09-10 00:00'),"
        f" ('{ME}', 'VAS_Y', 'unsubscribe', TIMESTAMP '2026-09-11 00:00'))"
        " AS t(msisdn, product_id, action, order_time)",
    )
    _write(
        con,
        w,
        "products",
        None,
        "SELECT * FROM (VALUES ('PL_A', '套餐A', 'Plan A', 'plan'), ('PL_B', '套餐B', 'Plan B', 'plan'),"
        " ('DP_X', '流量包X', 'Pack X', 'data_pack'), ('VAS_Y', '业务Y', 'Y', 'vas'))"
        " AS t(product_id, name, name_en, kind)",
    )
    _write(
        con,
        w,
        "service_contacts",
        "2026-09-30",
        f"SELECT * FROM (VALUES ('{ME}', TIMESTAMP '2026-09-30 09:00', '10086', 'complaint', 300))"
        " AS t(msisdn, contact_time, channel, reason, duration_s)",
    )
    (w.root / "models" / "detail").mkdir(parents=True)
    con.execute(
        f"COPY (SELECT * FROM (VALUES ('{ME}', 'site', 'wechat', 10, 5000000, 60, 2),"
        f" ('{ME}', 'app', '微信', 10, 5000000, 60, 2), ('{ME}', 'app', '抖音', 3, 9000000, 60, 1),"
        f" ('{OTHER}', 'app', '淘宝', 3, 1, 1, 1)) AS t(msisdn, level, key, sessions, bytes, seconds, days))"
        f" TO '{w.root / 'models' / 'detail' / 'internet_usage.parquet'}' (FORMAT parquet)"
    )
    return w


def test_window_calls_sms_data(wh: Warehouse) -> None:
    s = recent_behaviour(wh, ME)
    assert (s.since, s.until) == (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    # 2 days inside the window × 3 calls of 2 + 1 + 1 minutes; the August day is pruned.
    assert s.calls["count"] == 6 and s.calls["minutes"] == 8.0 and s.calls["originated"] == 4
    assert s.calls["onnet_share"] == pytest.approx(6 / 8)
    assert s.calls["top_contacts"][0] == {
        "peer": "139****1111",
        "operator": "CMCC",
        "calls": 4,
        "minutes": 6.0,
    }
    assert s.sms == {"count": 3, "sent": 1, "received": 2, "onnet_share": pytest.approx(1 / 3)}
    assert [(d["day"], d["mb"], d["sessions"]) for d in s.data_by_day] == [
        (dt.date(2026, 9, 29), 2.0, 1),
        (dt.date(2026, 9, 30), 2.0, 1),
    ]
    assert s.data_mb == 4.0
    assert s.missing == []


def test_peers_unmasked_only_when_asked(wh: Warehouse) -> None:
    assert recent_behaviour(wh, ME, unmask_peers=True).calls["top_contacts"][0]["peer"] == PEER
    peers = [c["peer"] for c in recent_behaviour(wh, ME).calls["top_contacts"]]
    assert all("****" in p for p in peers)


def test_roaming_products_contacts_apps(wh: Warehouse) -> None:
    s = recent_behaviour(wh, ME)
    assert [(r["destination"], r["days"]) for r in s.roaming] == [("TH", 1), ("广东 深圳", 1)]
    # The plan change replaced plan A; the unsubscribed service is gone; the data pack stays.
    assert [p["product_id"] for p in s.products] == ["PL_B", "DP_X"]
    assert s.products[0]["name"] == "套餐B"
    assert [(c["channel"], c["reason"], c["minutes"]) for c in s.service_contacts] == [
        ("10086", "complaint", 5.0)
    ]
    assert [(a["level"], a["key"]) for a in s.top_apps] == [("app", "抖音"), ("app", "微信")]


def test_shorter_window_and_before_a_day(wh: Warehouse) -> None:
    s = recent_behaviour(wh, ME, days=1)
    assert s.calls["count"] == 3 and [d["day"] for d in s.data_by_day] == [dt.date(2026, 9, 30)]
    early = recent_behaviour(wh, ME, days=45, until=dt.date(2026, 9, 10))
    assert early.calls["count"] == 3 and early.calls["minutes"] == 104.0  # the August day only
    # On 10 September the service was still held (unsubscribed on the 11th).
    assert [p["product_id"] for p in early.products] == ["PL_B", "VAS_Y", "DP_X"]


def test_unknown_number_and_bad_input(wh: Warehouse, tmp_path: Path) -> None:
    s = recent_behaviour(wh, "13800000000")
    assert s.calls["count"] == 0 and s.data_by_day == [] and s.products == []
    with pytest.raises(ValueError, match="days"):
        recent_behaviour(wh, ME, days=0)
    with pytest.raises(ValueError):
        recent_behaviour(wh, "not a number")
    empty = recent_behaviour(tmp_path, ME)
    assert empty.until is None and "voice_cdr" in empty.missing
