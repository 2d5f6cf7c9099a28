"""Worker processes as an install runs them (``tagcloud worker``), on the SQLite queue and on Redis:
two workers never run one job twice, and a worker killed with -9 in the middle of a campaign's SMS
wave is replaced by another that finishes it — every subscriber in the SMSC's journal once, every
target member in the ledger once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tagcloud.jobs.store import JobState, JobStore
from tagcloud.jobs.worker import submit

from .conftest import runs

pytestmark = pytest.mark.slow

WORKER = "from tagcloud.cli import app; app()"


def _worker(tmp_path: Path, threads: int = 2, **env: str) -> subprocess.Popen[bytes]:
    e = {**os.environ, "PYTHONUNBUFFERED": "1", "TAGCLOUD_JOB_LEASE_SECONDS": "3", **env}
    log = (tmp_path / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, "worker", "--threads", str(threads)],
        env=e,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(Path(__file__).parents[2]),
    )


def _stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGINT)  # graceful: Huey's consumer finishes what it runs
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _wait_all(ids: list[str], timeout: float) -> dict[str, JobState]:
    deadline = time.monotonic() + timeout
    while True:
        with JobStore() as s:
            states = {i: s.get(i).state for i in ids}
        if all(st in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED) for st in states.values()):
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def test_two_workers_never_run_one_job_twice(queue: str, tmp_path: Path) -> None:
    db = os.environ["TAGCLOUD_TEST_RUNS_DB"]
    ids = [submit("test.record", {"db": db, "sleep": 0.05, "steps": 2}).job_id for _ in range(40)]
    workers = [_worker(tmp_path), _worker(tmp_path)]
    try:
        states = _wait_all(ids, timeout=180)
    finally:
        for w in workers:
            _stop(w)
    assert set(states.values()) == {JobState.SUCCEEDED}, states
    executed = Counter(r[0] for r in runs(db))
    assert max(executed.values()) == 1, executed.most_common(3)
    assert set(ids) <= set(executed)
    pids = {r[2] for r in runs(db) if r[0] in set(ids)}
    assert pids <= {w.pid for w in workers} and len(pids) == 2  # both took a share
    # Both workers' minute ticks fired the every-minute schedule: one job per minute, not two.
    with JobStore() as s:
        ticked = [j for j in s.jobs(kind="test.record") if j.job_id not in set(ids)]
    keys = Counter(j.dedupe_key for j in ticked)
    assert all(k and k.startswith("schedule:test.every-minute:") for k in keys) and set(keys.values()) <= {1}


def _approved_campaign(url: str, work: Path, n: int) -> Any:
    """A county campaign with one SMS wave, approved, its target snapshot taken (launched)."""
    from tagcloud.campaigns.execute import launch, split_target
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import CampaignStore
    from tests.campaigns.helpers import demo_design
    from tests.campaigns.test_workflow import CITY, COUNTY, DESIGNER, PROVINCE

    design = demo_design(waves=("sms",))
    with CampaignStore(url) as store:
        store.create(design, DESIGNER)
        store.submit(design.campaign_id, DESIGNER)
        for who in (COUNTY, CITY, PROVINCE):
            store.approve(design.campaign_id, who)
    ms = np.array([f"135{i:08d}" for i in range(1, n + 1)], dtype=object)
    subs = np.where(np.arange(n) % 2 == 0, "high", "low").astype(object)
    with ContactLedger(url) as led:
        launch(led, design, split_target(design, ms, subs), work / "targets")
    return design


def test_a_killed_worker_mid_wave_is_resumed_without_duplicate_sms(
    queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tagcloud.campaigns.channels.smsc import LocalSmsc, read_journal
    from tagcloud.campaigns.policy import ContactLedger
    from tests.campaigns.helpers import NOON
    from tests.campaigns.test_execute import free_port

    n = 1500
    url = f"sqlite:///{tmp_path / 'campaigns.sqlite'}"
    work = tmp_path / "var" / "campaigns"
    design = _approved_campaign(url, work, n)
    journal = tmp_path / "smsc.jsonl"
    with LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01, journal=journal) as smsc:
        env = {"TAGCLOUD_CAMPAIGN_DB": url, "TAGCLOUD_CAMPAIGN_SMSC": f"127.0.0.1:{smsc.port}"}
        for k, v in env.items():  # the job's submitter reads the campaign store too (restored after)
            monkeypatch.setenv(k, v)
        job = submit("campaign.run", {"campaign_id": design.campaign_id, "now": NOON.isoformat()})
        first = _worker(tmp_path, threads=1, **env)
        deadline = time.monotonic() + 120
        while len(read_journal(journal)) < 300 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None, "the worker ended before it could be killed"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        sent_before = len(read_journal(journal))
        assert 300 <= sent_before < n - 150  # really killed in the middle of the wave
        with JobStore() as s:
            assert s.get(job.job_id).state == JobState.RUNNING  # the dead worker's claim
        second = _worker(tmp_path, threads=1, **env)
        try:
            states = _wait_all([job.job_id], timeout=240)
        finally:
            _stop(second)
        time.sleep(0.3)
    with JobStore() as s:
        j, log = s.get(job.job_id), [line for _, _, line in s.log(job.job_id)]
    assert states[job.job_id] == JobState.SUCCEEDED, (j.error, log[-5:])
    assert j.attempts == 2 and any("stopped" in line for line in log)
    sent = [x["to"] for x in read_journal(journal)]
    dup = [m for m, c in Counter(sent).items() if c > 1]
    assert dup == [], f"duplicate SMS to {dup[:5]}"
    with ContactLedger(url) as led:
        st = dict(led.db.q("SELECT status, count(*) FROM contacts GROUP BY 1"))
        assert sum(st.values()) == n and st["control"] == 150  # every member recorded once
        assert led.db.q("SELECT count(DISTINCT msisdn) FROM contacts")[0][0] == n
        assert "reserved" not in st and "submitting" not in st
        unknown = st.get("unknown", 0)
        known_sent = st.get("delivered", 0) + st.get("failed", 0) + st.get("submitted", 0)
        assert known_sent + unknown == n - 150 and known_sent <= len(sent) <= known_sent + unknown
