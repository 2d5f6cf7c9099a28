"""Execution: control group, waves under the policy, SMS over SMPP, call lists, touchpoints, crash resume."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tagcloud.campaigns.channels.smpp import SmppClient
from tagcloud.campaigns.channels.smsc import LocalSmsc, read_journal
from tagcloud.campaigns.execute import (
    Target,
    export_call_list,
    import_call_results,
    launch,
    plan_wave,
    run_sms_wave,
    split_target,
    touchpoint_feedback,
    touchpoint_offers,
    wave_status,
)
from tagcloud.campaigns.policy import ContactLedger

from .helpers import NOON, demo_design


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def numbers(n: int, prefix: str = "136") -> np.ndarray:
    return np.array([f"{prefix}{i:08d}" for i in range(1, n + 1)], dtype=object)


def test_split_target_holds_out_the_share_per_sub_campaign() -> None:
    d = demo_design(control_share=0.1)
    ms = numbers(1000)
    subs = np.where(np.arange(1000) < 300, "high", "low").astype(object)
    t = split_target(d, ms, subs)
    assert t.control[subs == "high"].sum() == 30 and t.control[subs == "low"].sum() == 70
    assert np.array_equal(split_target(d, ms, subs).control, t.control)  # reproducible
    with pytest.raises(ValueError, match="appears twice"):
        Target(np.array(["1", "1"], dtype=object), np.array(["a", "a"], dtype=object), np.zeros(2, bool))


def test_two_waves_sms_then_calls_for_non_responders(tmp_path: Path) -> None:
    d = demo_design(capacity={"outbound": 40})
    ms = numbers(200)
    subs = np.where(np.arange(200) % 4 == 0, "high", "low").astype(object)
    with (
        ContactLedger(f"sqlite:///{tmp_path / 'l.db'}") as led,
        LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01) as smsc,
    ):
        path = launch(led, d, split_target(d, ms, subs), tmp_path)
        t = Target.load(path)
        assert plan_wave(led, d, t, 0) == {"reserved": 180}
        # the control group is recorded with the offer it would have received, never sent
        ctl = led.db.q("SELECT offer_id, count(*) FROM contacts WHERE status='control' GROUP BY 1 ORDER BY 1")
        assert ctl == [("5G_PACK_30", 15), ("5G_PACK_50", 5)]
        with SmppClient("127.0.0.1", smsc.port, window=10, rate=5000) as c:
            run = run_sms_wave(led, d, c, 0, NOON)
        assert run.submitted == 180
        # some respond to the SMS: they are skipped by the call wave
        acts = [m for m in t.msisdn[~t.control]][:30]
        for m in acts[:10]:
            led.record_response(
                m,
                None,
                "sms",
                "accepted" if m.endswith("2") else "considering",
                NOON,
                campaign_id=d.campaign_id,
            )
        counts = plan_wave(led, d, t, 1)
        assert counts == {"not_in_wave": 10, "reserved": 170}
        # the call centre takes 40 a day: the list is spread over days
        days = led.db.q("SELECT contact_at, count(*) FROM contacts WHERE wave=1 GROUP BY 1 ORDER BY 1")
        assert [n for _, n in days] == [40, 40, 40, 40, 10]
        out = tmp_path / "calls.csv"
        assert export_call_list(led, d, 1, out, d.wave_time(1)) == 40
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert len(rows) == 40 and rows[0]["script"].startswith("您好")
        # nothing is exported twice
        assert export_call_list(led, d, 1, tmp_path / "again.csv", d.wave_time(1)) == 0
        res = tmp_path / "results.csv"
        with res.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["contact_id", "result", "called_at"])
            for i, r in enumerate(rows):
                w.writerow(
                    [
                        r["contact_id"],
                        ["accepted", "refused", "no_answer", "considering"][i % 4],
                        "2026-11-13 15:00",
                    ]
                )
        assert import_call_results(led, res, d.wave_time(1)) == {
            "accepted": 10,
            "refused": 10,
            "no_answer": 10,
            "considering": 10,
        }
        status = {(x["wave"], x["what"]): x["count"] for x in wave_status(led, d.campaign_id)}
        assert status[(1, "delivered")] == 30 and status[(1, "failed")] == 10
        bad = tmp_path / "bad.csv"
        bad.write_text("contact_id,result\n1,maybe\n", encoding="utf-8")
        with pytest.raises(ValueError, match="line 2: unknown call result 'maybe'"):
            import_call_results(led, bad, NOON)


def test_touchpoint_offers_history_and_acceptance_everywhere(tmp_path: Path) -> None:
    d = demo_design(waves=("hall", "sms"), control_share=0.0)
    ms = numbers(5)
    with ContactLedger(f"sqlite:///{tmp_path / 'l.db'}") as led:
        t = Target.load(launch(led, d, split_target(d, ms, np.array(["low"] * 5, dtype=object)), tmp_path))
        plan_wave(led, d, t, 0)
        plan_wave(led, d, t, 1)  # an SMS is pending for day 3
        m = str(ms[0])
        view = touchpoint_offers(led, {d.campaign_id: d}, m, "10086", NOON + dt.timedelta(hours=1))
        assert [o["offer_id"] for o in view["offers"]] == ["5G_PACK_30"]
        assert view["offers"][0]["script"] == "客户近期流量超套，推荐5G畅享包"  # 10086's own script
        touchpoint_feedback(
            led, view["offers"][0]["contact_id"], "10086", "considering", NOON + dt.timedelta(hours=1)
        )
        later = touchpoint_offers(led, {d.campaign_id: d}, m, "hall", NOON + dt.timedelta(days=1, hours=2))
        assert later["offers"] == []  # shown once (delivered)
        assert any(
            h["event"] == "response" and h["status"] == "considering" and h["ago"] == "yesterday"
            for h in later["history"]
        )
        # accepted at the hall: the pending SMS for the same offer is cancelled
        led.record_response(
            m, "5G_PACK_30", "hall", "accepted", NOON + dt.timedelta(days=1), campaign_id=d.campaign_id
        )
        st = led.db.q("SELECT status FROM contacts WHERE msisdn=? AND channel='sms'", (m,))
        assert st == [("cancelled",)]
        with pytest.raises(ValueError, match="not a touchpoint channel"):
            touchpoint_offers(led, {}, m, "sms", NOON)


@pytest.mark.slow
def test_killed_mid_execution_resumes_without_duplicate_sms_or_lost_records(tmp_path: Path) -> None:
    n = 1500
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    journal = tmp_path / "smsc.jsonl"
    runner = [sys.executable, str(Path(__file__).parent / "crash_runner.py"), url, str(tmp_path), "", str(n)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01, journal=journal) as smsc:
        runner[4] = str(smsc.port)
        p = subprocess.Popen(runner, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while len(read_journal(journal)) < 300 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert p.poll() is None, (
            f"the runner ended before it could be killed: {p.communicate()[1].decode()[-2000:]}"
        )
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        sent_before = len(read_journal(journal))
        assert 300 <= sent_before < 1350  # really killed in the middle
        done = subprocess.run(runner, env=env, capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        time.sleep(0.3)
    sent = [j["to"] for j in read_journal(journal)]
    dup = [m for m, c in Counter(sent).items() if c > 1]
    assert dup == [], f"duplicate SMS to {dup[:5]}"
    with ContactLedger(url) as led:
        st = dict(led.db.q("SELECT status, count(*) FROM contacts GROUP BY 1"))
        # every target member has exactly one record: 1350 action contacts + 150 control
        assert sum(st.values()) == n and st["control"] == 150
        assert led.db.q("SELECT count(DISTINCT msisdn) FROM contacts")[0][0] == n
        assert "reserved" not in st and "submitting" not in st
        unknown = st.get("unknown", 0)
        assert unknown <= 8  # at most one window was in flight at the kill
        known_sent = st.get("delivered", 0) + st.get("failed", 0) + st.get("submitted", 0)
        assert known_sent <= len(sent) <= known_sent + unknown
        assert known_sent + unknown == 1350
