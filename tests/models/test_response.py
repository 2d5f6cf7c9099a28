"""Contact response: recovers each subscriber's planted best channel from contacts and responses."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from tagcloud.models.response import attach_ledger, contact_response

CHANNELS = np.array(["sms", "outbound", "app"])


def _history(
    n_subs: int = 400, contacts_each: int = 30, seed: int = 0
) -> tuple[pa.Table, pa.Table, np.ndarray]:
    rng = np.random.default_rng(seed)
    best = rng.integers(0, 3, n_subs)  # planted: each subscriber answers one channel far more often
    rate = np.full((n_subs, 3), 0.03)
    rate[np.arange(n_subs), best] = 0.45
    sub = np.repeat(np.arange(n_subs), contacts_each)
    ch = rng.integers(0, 3, len(sub))
    hit = rng.random(len(sub)) < rate[sub, ch]
    msisdn = np.char.add("138", np.char.zfill(sub.astype(str), 8))
    contacts = pa.table({"msisdn": msisdn, "channel": CHANNELS[ch]})
    responses = pa.table(
        {"msisdn": msisdn[hit], "channel": CHANNELS[ch][hit], "outcome": np.full(int(hit.sum()), "accepted")}
    )
    return contacts, responses, best


def test_recovers_planted_best_channel() -> None:
    contacts, responses, best = _history()
    con = duckdb.connect()
    con.register("campaign_contacts", contacts)
    con.register("campaign_responses", responses)
    out = contact_response(con).to_pydict()
    got = dict(zip(out["msisdn"], out["best_response_channel"], strict=True))
    want = {f"138{i:08d}": CHANNELS[b] for i, b in enumerate(best)}
    agree = np.mean([got[m] == w for m, w in want.items()])
    assert agree > 0.9
    assert all(0 <= r <= 1 for r in out["best_response_rate"])


def test_smoothing_keeps_one_lucky_contact_from_winning() -> None:
    con = duckdb.connect()
    con.register("campaign_contacts", pa.table({"msisdn": ["a"] * 21 + ["b"] * 200,
                                                "channel": ["app"] + ["sms"] * 20 + ["app"] * 100 + ["sms"] * 100}))  # fmt: skip
    con.register("campaign_responses", pa.table({"msisdn": ["a"] * 9 + ["b"] * 30,
                                                 "channel": ["app"] + ["sms"] * 8 + ["app"] * 10 + ["sms"] * 20,
                                                 "outcome": ["accepted"] * 39}))  # fmt: skip
    out = {r["msisdn"]: r for r in contact_response(con).to_pylist()}
    # 'a' answered its single app contact (raw 100%) and 8 of 20 SMS: SMS stays the better bet
    assert out["a"]["best_response_channel"] == "sms"
    raw = {r["msisdn"]: r for r in contact_response(con, {"prior": 0}).to_pylist()}
    assert raw["a"]["best_response_channel"] == "app"  # without smoothing the lucky contact wins
    with pytest.raises(ValueError, match="prior"):
        contact_response(con, {"prior": -1})


def test_attach_sqlite_ledger(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE contacts (msisdn TEXT, channel TEXT)")
        c.execute("CREATE TABLE responses (msisdn TEXT, channel TEXT, outcome TEXT)")
        c.executemany("INSERT INTO contacts VALUES (?, ?)", [("1", "sms"), ("1", "app"), ("2", "sms")])
        c.execute("INSERT INTO responses VALUES ('1', 'app', 'accepted')")
    con = duckdb.connect()
    attach_ledger(con, db)
    out = {r["msisdn"]: r for r in contact_response(con).to_pylist()}
    assert out["1"]["best_response_channel"] == "app" and out["1"]["contacts"] == 2
    with pytest.raises(FileNotFoundError, match="does not exist"):
        attach_ledger(con, tmp_path / "none.db")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(ValueError, match="no table"):
        attach_ledger(con, empty)
