"""The job record's laws, on SQLite and PostgreSQL: one claim wins, a dedupe key makes one job, a
lock allows one open job, only the claiming worker writes the outcome, lost workers' jobs come back."""

from __future__ import annotations

import os
import threading
import time

import pytest

from tagcloud.jobs.store import JobBusy, JobState, JobStore


def test_of_many_claims_exactly_one_wins(store_url: str) -> None:
    with JobStore(store_url) as s:
        job, _ = s.submit("k", {"x": 1})
    wins: list[int | None] = []

    def claim(i: int) -> None:
        with JobStore(store_url) as s:
            wins.append(s.claim(job.job_id, f"w{i}", 30))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(w for w in wins if w is not None) == [1] and wins.count(None) == 7
    with JobStore(store_url) as s:
        j = s.get(job.job_id)
    assert j.state == JobState.RUNNING and j.attempts == 1


def test_a_dedupe_key_makes_one_job_and_a_lock_one_open_job(store_url: str) -> None:
    with JobStore(store_url) as s:
        a, created = s.submit("k", dedupe_key="tick:12:00")
        b, again = s.submit("k", dedupe_key="tick:12:00")
        assert created and not again and a.job_id == b.job_id
        c, _ = s.submit("k", lock_key="campaign:C1")
        with pytest.raises(JobBusy, match="campaign:C1"):
            s.submit("k", lock_key="campaign:C1")
        s.claim(c.job_id, "w", 30)
        s.finish(c.job_id, "w", JobState.SUCCEEDED, summary="ok")
        d, created = s.submit("k", lock_key="campaign:C1")  # the lock is free once the job is done
        assert created and s.latest("campaign:C1").job_id == d.job_id  # type: ignore[union-attr]


def test_only_the_claiming_worker_writes_the_outcome(store_url: str) -> None:
    with JobStore(store_url) as s:
        job, _ = s.submit("k")
        s.claim(job.job_id, "w1", 30)
        assert (
            not s.finish(job.job_id, "w2", JobState.SUCCEEDED) and s.get(job.job_id).state == JobState.RUNNING
        )
        assert s.renew(job.job_id, "w2", 30) is None and s.renew(job.job_id, "w1", 30) is False
        s.finish(job.job_id, "w1", JobState.SUCCEEDED, summary="done")
        assert s.get(job.job_id).state == JobState.SUCCEEDED


def test_a_failure_with_attempts_left_is_queued_again(store_url: str) -> None:
    with JobStore(store_url) as s:
        job, _ = s.submit("k", max_attempts=2)
        s.claim(job.job_id, "w", 30)
        assert s.finish(job.job_id, "w", JobState.FAILED, error="boom")  # back to the queue
        assert s.get(job.job_id).state == JobState.QUEUED
        assert s.claim(job.job_id, "w", 30) == 2
        assert not s.finish(job.job_id, "w", JobState.FAILED, error="boom again")
        j = s.get(job.job_id)
        assert j.state == JobState.FAILED and j.error == "boom again"
        s.retry(job.job_id)  # a user's retry: one more attempt
        assert s.claim(job.job_id, "w", 30) == 3


def test_jobs_of_lost_workers_come_back(store_url: str) -> None:
    import socket

    with JobStore(store_url) as s:
        expired, _ = s.submit("k")
        dead, _ = s.submit("k")
        alive, _ = s.submit("k")
        s.claim(expired.job_id, "elsewhere:1", lease=0.01)
        s.claim(dead.job_id, f"{socket.gethostname()}:999999999", lease=300)  # no such process here
        s.claim(alive.job_id, f"{socket.gethostname()}:{os.getpid()}", lease=300)
        time.sleep(0.05)
        back = s.recover()
        assert sorted(back) == sorted([expired.job_id, dead.job_id])
        assert s.get(alive.job_id).state == JobState.RUNNING
        assert s.get(dead.job_id).state == JobState.QUEUED and "stopped" in (s.get(dead.job_id).error or "")
        assert any("stopped" in line for _, _, line in s.log(dead.job_id))


def test_cancel_and_retry_follow_the_state(store_url: str) -> None:
    with JobStore(store_url) as s:
        q, _ = s.submit("k")
        assert s.cancel(q.job_id).state == JobState.CANCELLED
        assert s.claim(q.job_id, "w", 30) is None  # a cancelled job is never claimed
        r, _ = s.submit("k")
        s.claim(r.job_id, "w", 30)
        assert s.cancel(r.job_id).cancel_requested and s.renew(r.job_id, "w", 30) is True
        with pytest.raises(ValueError, match="only a failed or cancelled"):
            s.retry(r.job_id)
        assert s.retry(q.job_id).state == JobState.QUEUED
        with pytest.raises(KeyError):
            s.get("nope")
