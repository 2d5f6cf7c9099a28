"""The customer attribute table's churn signs, on a tiny hand-made warehouse, against numpy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import numpy as np
import pytest

from tagcloud.models.customer import attributes_sql
from tagcloud.models.evaluate import _cut_before

D0 = dt.date(2026, 9, 1)
DAYS = 10
# daily originated activity (MO calls + MO SMS + data sessions) of three subscribers
FADING = [9, 8, 8, 6, 5, 5, 3, 2, 2, 0]
STEADY = [3] * DAYS
GROWING = [0, 1, 1, 2, 2, 3, 4, 4, 5, 6]


def _slope(counts: list[int]) -> float:
    """Reference: least-squares slope of the daily counts (zero days included) over their mean."""
    y = np.asarray(counts, float)
    return float(np.polyfit(np.arange(len(y)), y, 1)[0] / y.mean())


@pytest.fixture
def warehouse(con: duckdb.DuckDBPyConnection, tables: Callable[..., None]) -> duckdb.DuckDBPyConnection:
    tables("subscribers", "voice_cdr", "sms", "data_xdr", "billing_monthly", "service_contacts",
           "subscriber_handsets", "handsets", "roaming")  # fmt: skip
    for i, who in enumerate(("13800000001", "13800000002", "13800000003")):
        con.execute(
            "INSERT INTO subscribers (msisdn, subscriber_id, brand, join_date, status, payment_type, snapshot_date) "
            "VALUES (?, ?, 'gotone', DATE '2020-01-01', ?, 'prepaid', DATE '2026-09-10')",
            [who, i, "suspended" if i == 2 else "active"],
        )
    rec = iter(range(10_000))

    def call(who: str, day: int, peer: str, op: str, direction: str = "MO") -> None:
        con.execute(
            "INSERT INTO voice_cdr (record_id, msisdn, peer_number, direction, start_time, duration_s, "
            "peer_operator, roaming) VALUES (?, ?, ?, ?, ?, 60, ?, false)",
            [next(rec), who, peer, direction, dt.datetime.combine(D0 + dt.timedelta(day), dt.time(10)), op],
        )

    def session(who: str, day: int) -> None:
        con.execute(
            "INSERT INTO data_xdr (record_id, msisdn, start_time, duration_s, rat, bytes_up, bytes_down) "
            "VALUES (?, ?, ?, 10, '4G', 0, 1000000)",
            [next(rec), who, dt.datetime.combine(D0 + dt.timedelta(day), dt.time(12))],
        )

    def sms(who: str, day: int) -> None:
        con.execute(
            "INSERT INTO sms (record_id, msisdn, peer_number, direction, sent_time, peer_operator, roaming) "
            "VALUES (?, ?, '13900000009', 'MO', ?, 'CMCC', false)",
            [next(rec), who, dt.datetime.combine(D0 + dt.timedelta(day), dt.time(15))],
        )

    # the fading subscriber: calls on the first days (one to a rival's hotline, one to a rival-network
    # number never heard from again, one to an off-net friend who calls back), SMS, then sessions
    fading = "13800000001"
    for day, peer, op in ((0, "10010", "SERVICE"), (0, "13300000001", "CT"), (1, "13100000007", "CU"),
                          (1, "13900000008", "CMCC"), (2, "13900000009", "CMCC")):  # fmt: skip
        call(fading, day, peer, op)
    call(fading, 3, "13100000007", "CU", "MT")  # the friend calls back: a contact, not shopping around
    left = list(FADING)
    left[0] -= 2
    left[1] -= 2
    left[2] -= 1
    for _ in range(2):
        sms(fading, 3)
    left[3] -= 2
    for day, k in enumerate(left):
        for _ in range(k):
            session(fading, day)
    for day, k in enumerate(STEADY):
        for _ in range(k):
            session("13800000002", day)
    for day, k in enumerate(GROWING):
        for _ in range(k):
            session("13800000003", day)
    # the window is the span of voice_cdr: received calls on its first and last days (and on day 4,
    # the last before the cut of the last test)
    for day in (0, 4, DAYS - 1):
        call("13800000002", day, "13900000009", "CMCC", "MT")
    # bills: August (31 days) 62 MB and 31 SMS for the fading subscriber, i.e. 2 MB and 1 SMS a day
    con.execute(
        "INSERT INTO billing_monthly (bill_month, msisdn, arpu, dou_mb, mou_min, sms_count) "
        "VALUES (DATE '2026-08-01', '13800000001', 30, 62, 100, 31), "
        "(DATE '2026-09-01', '13800000001', 30, 9999, 100, 999)"  # the window's own month is not history
    )
    return con


def _row(con: duckdb.DuckDBPyConnection, msisdn: str, sql: str | None = None) -> dict[str, object]:
    cur = con.execute(f"SELECT * FROM ({sql or attributes_sql()}) WHERE msisdn = ?", [msisdn])
    (row,) = cur.fetchall()
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def test_activity_slope_is_the_least_squares_slope_over_the_mean(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    got = {m: _row(warehouse, m)["activity_slope"] for m in ("13800000001", "13800000002", "13800000003")}
    assert got["13800000001"] == pytest.approx(_slope(FADING))
    assert got["13800000001"] < -0.1  # losing over a tenth of the mean a day
    assert got["13800000002"] == pytest.approx(0.0, abs=1e-12)
    assert got["13800000003"] == pytest.approx(_slope(GROWING))
    assert got["13800000003"] > 0.1


def test_rival_calls_bills_and_suspension(warehouse: duckdb.DuckDBPyConnection) -> None:
    a = _row(warehouse, "13800000001")
    # 5 MO calls: the rival hotline and the rival number called once count; the friend who calls back does not
    assert a["rival_call_share"] == pytest.approx(2 / 5)
    sessions = sum(FADING) - 5 - 2
    # 1 MB a session in the window; 2 MB a day in August
    assert a["dou_vs_bills"] == pytest.approx(sessions * 1.0 / DAYS / 2.0)
    assert a["sms_vs_bills"] == pytest.approx(2 / DAYS / 1.0)
    assert a["is_suspended"] is False
    assert _row(warehouse, "13800000003")["is_suspended"] is True
    # no MO calls: no share (not zero); no bills before the window: no comparison
    steady = _row(warehouse, "13800000002")
    assert steady["rival_call_share"] is None
    assert steady["dou_vs_bills"] is None


def test_cut_leaves_out_the_days_from_the_cut(warehouse: duckdb.DuckDBPyConnection) -> None:
    cut = (D0 + dt.timedelta(5)).isoformat()
    a = _row(warehouse, "13800000003", _cut_before(attributes_sql(), cut))
    assert a["activity_slope"] == pytest.approx(_slope(GROWING[:5]))
    assert a["sessions_per_day"] == pytest.approx(sum(GROWING[:5]) / 5)
    # a bill exists once its month is over: August's is kept, September's (not closed at the cut) is not
    bills = _row(warehouse, "13800000001", _cut_before(attributes_sql(), cut))
    assert bills["dou_mb"] == pytest.approx(62)
    assert _row(warehouse, "13800000001")["dou_mb"] == pytest.approx((62 + 9999) / 2)
