"""Jobs through the real queue (Huey on SQLite, and on Redis when it answers) and a worker in this
process: outcome, progress and log; a failure retried; a cancel; schedules fire once per minute."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from tagcloud.jobs.store import JobState, JobStore
from tagcloud.jobs.worker import InProcessWorker, fire_schedules, submit

from .conftest import runs


def _wait(job_id: str, states: set[JobState], timeout: float = 60) -> JobState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with JobStore() as s:
            st = s.get(job_id).state
        if st in states:
            return st
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still not {states} after {timeout} s")


@pytest.fixture
def worker(queue: str, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("TAGCLOUD_JOB_LEASE_SECONDS", "2")
    monkeypatch.setenv("TAGCLOUD_JOB_RETRY_SECONDS", "0.2")
    w = InProcessWorker()
    w.start()
    yield w
    w.stop()


def test_a_job_runs_once_with_progress_and_log(worker: object, tmp_path: Path) -> None:
    db = os.environ["TAGCLOUD_TEST_RUNS_DB"]
    job = submit("test.record", {"db": db, "steps": 3})
    assert job.state == JobState.QUEUED
    assert _wait(job.job_id, {JobState.SUCCEEDED}) == JobState.SUCCEEDED
    with JobStore() as s:
        j, log = s.get(job.job_id), s.log(job.job_id)
    assert (j.done, j.total, j.attempts) == (3, 3, 1) and j.summary == f"recorded by {os.getpid()}"
    assert [line for _, _, line in log][-1] == j.summary
    assert [r[0] for r in runs(db)] == [job.job_id]


def test_a_failed_attempt_is_retried(worker: object) -> None:
    db = os.environ["TAGCLOUD_TEST_RUNS_DB"]
    job = submit("test.flaky", {"db": db})
    assert _wait(job.job_id, {JobState.SUCCEEDED, JobState.FAILED}) == JobState.SUCCEEDED
    with JobStore() as s:
        j, log = s.get(job.job_id), s.log(job.job_id)
    assert j.attempts == 2 and [r[1] for r in runs(db)] == [1, 2]
    assert any("first attempt fails" in line for _, _, line in log)


def test_a_running_job_is_cancelled(worker: object) -> None:
    db = os.environ["TAGCLOUD_TEST_RUNS_DB"]
    job = submit("test.record", {"db": db, "steps": 200, "sleep": 0.05})
    _wait(job.job_id, {JobState.RUNNING})
    with JobStore() as s:
        s.cancel(job.job_id)
    assert _wait(job.job_id, {JobState.CANCELLED, JobState.SUCCEEDED}) == JobState.CANCELLED
    with JobStore() as s:
        assert s.get(job.job_id).done < 200


def test_a_schedule_fires_once_a_minute_however_many_workers_tick(queue: str) -> None:
    minute = dt.datetime(2026, 12, 6, 9, 30)
    first = fire_schedules(minute)
    second = fire_schedules(minute)  # a second worker's tick of the same minute
    mine = [j for j in first if j.kind == "test.record"]
    assert len(mine) == 1 and [j.job_id for j in second if j.kind == "test.record"] == [mine[0].job_id]
    with JobStore() as s:
        assert len(s.jobs(kind="test.record")) == 1
    later = fire_schedules(minute + dt.timedelta(minutes=1))
    assert [j.job_id for j in later if j.kind == "test.record"] != [mine[0].job_id]


def test_an_unknown_kind_is_refused(queue: str) -> None:
    with pytest.raises(KeyError, match="unknown job kind 'nope'"):
        submit("nope")


def test_a_malformed_schedule_is_refused_when_declared() -> None:
    from tagcloud.jobs.registry import schedule

    with pytest.raises(ValueError):
        schedule("bad", "test.record", cron="every day")
