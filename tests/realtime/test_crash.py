"""kill -9 of the event worker mid-stream: no event lost, no SMS sent twice (SMSC journal)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tagcloud.campaigns.channels.smsc import LocalSmsc, read_journal
from tagcloud.campaigns.policy import ContactLedger
from tagcloud.realtime.bus import open_bus
from tagcloud.realtime.rulestore import RuleStore

from .helpers import DAY, NAMES, activate, free_port, roam, roam_rule
from .test_bus import NATS_URL, nats_unavailable, settled_pending

RUNNER = Path(__file__).with_name("crash_runner.py")
N_SUBS = 3000


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["sqlite", pytest.param("nats", marks=pytest.mark.nats)])
def test_kill_9_mid_stream_loses_nothing_and_sends_nothing_twice(transport: str, tmp_path: Path) -> None:
    if transport == "nats" and (reason := nats_unavailable()):
        pytest.skip(reason)
    prefix = f"CRASH{uuid.uuid4().hex[:8].upper()}"
    bus_url = f"sqlite:///{tmp_path / 'events.db'}" if transport == "sqlite" else NATS_URL
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with RuleStore(db_url, names=NAMES) as store:
        activate(store, roam_rule())
    noon = DAY.replace(hour=12)
    events = [roam(i, i, noon, other=i % 3 != 0) for i in range(N_SUBS)]
    matching = {e.msisdn for i, e in enumerate(events) if i % 3 and (i % 200) >= 100 and i % 10}
    kw = {"prefix": prefix, "ack_wait": 1.0} if transport == "nats" else {}
    with open_bus(bus_url, **kw) as bus:
        bus.publish([e.to_json() for e in events])
    journal = tmp_path / "smsc.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    args = [sys.executable, str(RUNNER), bus_url, prefix, db_url]
    with LocalSmsc(port=free_port(), rate=4000, receipt_delay=0.01, journal=journal) as smsc:
        cmd = [*args, str(smsc.port), str(N_SUBS)]
        first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with ContactLedger(db_url) as ledger:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    sent = ledger.db.q(
                        "SELECT count(*) FROM contacts WHERE status IN ('submitted', 'delivered')"
                    )[0][0]
                except Exception:
                    sent = 0
                if sent >= 40:
                    break
                time.sleep(0.02)
            os.kill(first.pid, signal.SIGKILL)  # mid-stream: decisions and SMS in flight
            first.wait(10)
            assert first.returncode == -signal.SIGKILL
            before = ledger.db.q("SELECT count(*) FROM rt_decisions")[0][0]
            assert 0 < before < N_SUBS, "the kill should land mid-stream"
            second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
            assert second.returncode == 0, second.stderr[-3000:]
            decided = dict(ledger.db.q("SELECT event_id, outcome FROM rt_decisions"))
            contacts = ledger.db.q(
                "SELECT msisdn, status FROM contacts WHERE campaign_id='rule:roam_gd' AND status <> 'control'"
            )
    # no event lost: every published event has exactly one decision (the key is the event id)
    assert set(decided) == {e.event_id for e in events}
    with open_bus(bus_url, **kw) as bus:
        assert settled_pending(bus) == 0
        assert bus.dead_letters() == []
        if transport == "nats":
            bus.delete_streams()  # type: ignore[attr-defined]
    # one contact per matching subscriber; none was sent twice
    assert {m for m, _ in contacts} == matching
    dests = collections.Counter(m["to"] for m in read_journal(journal))
    assert dests and max(dests.values()) == 1, [d for d, c in dests.items() if c > 1][:5]
    statuses = collections.Counter(s for _, s in contacts)
    # every contact was sent, except at most a window's worth left UNKNOWN by the kill
    assert statuses["reserved"] == 0 and statuses["submitting"] == 0
    assert statuses["unknown"] <= 8
    assert len(dests) >= statuses["submitted"] + statuses["delivered"]
