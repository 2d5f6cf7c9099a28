"""Job kinds the job tests run (loaded through TAGCLOUD_JOB_MODULES, as an install's own would be):
each execution is written to a SQLite table, so a test counts how often each job really ran."""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from tagcloud.jobs.registry import job_kind, schedule


def _record(db: str, job_id: str, attempt: int) -> None:
    with sqlite3.connect(db, timeout=60) as c:
        c.execute("CREATE TABLE IF NOT EXISTS runs (job_id TEXT, attempt INT, pid INT, at REAL)")
        c.execute("INSERT INTO runs VALUES (?, ?, ?, ?)", (job_id, attempt, os.getpid(), time.time()))


@job_kind("test.record", title="record an execution")
def record(ctx: Any, db: str, sleep: float = 0.0, steps: int = 1) -> str:
    _record(db, ctx.job_id, ctx.attempt)
    for i in range(steps):
        ctx.check_cancelled()
        ctx.progress(i + 1, steps)
        time.sleep(sleep)
    return f"recorded by {os.getpid()}"


@job_kind("test.flaky", title="fails on its first attempt", max_attempts=2)
def flaky(ctx: Any, db: str) -> str:
    _record(db, ctx.job_id, ctx.attempt)
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return "second attempt worked"


schedule(
    "test.every-minute",
    "test.record",
    cron="* * * * *",
    args=lambda when: {"db": os.environ["TAGCLOUD_TEST_RUNS_DB"]},
)
