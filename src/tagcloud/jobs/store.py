"""The job record: what was asked, its state, progress, log and attempts, in SQLite (embedded) or
PostgreSQL — the contact ledger's backends (``campaigns.backends``), so the same URLs work.

Queue messages only carry a job id; the record decides. A worker *claims* a queued job with one
atomic UPDATE (so two workers never run one job), holds a *lease* it renews while it works, and
writes the outcome only while it still holds the job. A worker killed with -9 stops renewing: its
job goes back to the queue when the lease runs out (or at once when a worker on the same machine
sees the process is gone), and runs again — job functions are written to resume (idempotent)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagcloud.campaigns.backends import Backend, open_backend


class JobState(enum.StrEnum):
    QUEUED = "queued"  # waiting for a worker (new, retried, or taken back from a lost worker)
    RUNNING = "running"  # claimed by a worker that renews its lease
    SUCCEEDED = "succeeded"  # finished; ``summary`` says what it did
    FAILED = "failed"  # every attempt failed; ``error`` holds the last one
    CANCELLED = "cancelled"  # stopped by a user before or while running


OPEN_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, args VARCHAR NOT NULL, title VARCHAR NOT NULL,
    region_id VARCHAR, state VARCHAR NOT NULL, done BIGINT NOT NULL DEFAULT 0, total BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
    dedupe_key VARCHAR UNIQUE, lock_key VARCHAR, worker VARCHAR, lease_until DOUBLE PRECISION,
    cancel_requested INTEGER NOT NULL DEFAULT 0, created_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, enqueued_at DOUBLE PRECISION,
    summary VARCHAR, error VARCHAR, result VARCHAR
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_open_per_lock ON jobs (lock_key)
    WHERE lock_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE TABLE IF NOT EXISTS job_log (
    line_id {id}, job_id VARCHAR NOT NULL, at DOUBLE PRECISION NOT NULL, attempt INTEGER NOT NULL,
    line VARCHAR NOT NULL
);
CREATE INDEX IF NOT EXISTS job_log_by_job ON job_log (job_id, line_id);
CREATE TABLE IF NOT EXISTS job_steps (
    chain_key VARCHAR NOT NULL, step VARCHAR NOT NULL, job_id VARCHAR NOT NULL,
    done_at DOUBLE PRECISION NOT NULL, summary VARCHAR, PRIMARY KEY (chain_key, step)
);
"""

COLUMNS = (
    "job_id", "kind", "args", "title", "region_id", "state", "done", "total", "attempts",
    "max_attempts", "dedupe_key", "lock_key", "worker", "lease_until", "cancel_requested",
    "created_at", "started_at", "finished_at", "summary", "error", "result",
)  # fmt: skip


class JobBusy(RuntimeError):
    """Another job holding the same lock is queued or running (e.g. a pass of the same campaign)."""

    def __init__(self, lock_key: str, job_id: str) -> None:
        super().__init__(f"{lock_key} already has an open job ({job_id}); wait for it to finish")
        self.job_id = job_id


@dataclass
class Job:
    job_id: str
    kind: str
    args: dict[str, Any]
    title: str
    region_id: str | None
    state: JobState
    done: int
    total: int | None
    attempts: int
    max_attempts: int
    dedupe_key: str | None
    lock_key: str | None
    worker: str | None
    lease_until: float | None
    cancel_requested: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    summary: str | None
    error: str | None
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def percent(self) -> float | None:
        return 100.0 * self.done / self.total if self.total else None


def _when(x: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(x).astimezone() if x is not None else None


def _job(row: tuple[Any, ...]) -> Job:
    r = dict(zip(COLUMNS, row, strict=True))
    return Job(
        job_id=r["job_id"],
        kind=r["kind"],
        args=json.loads(r["args"]),
        title=r["title"],
        region_id=r["region_id"],
        state=JobState(r["state"]),
        done=int(r["done"]),
        total=None if r["total"] is None else int(r["total"]),
        attempts=int(r["attempts"]),
        max_attempts=int(r["max_attempts"]),
        dedupe_key=r["dedupe_key"],
        lock_key=r["lock_key"],
        worker=r["worker"],
        lease_until=r["lease_until"],
        cancel_requested=bool(r["cancel_requested"]),
        created_at=_when(r["created_at"]) or dt.datetime.now().astimezone(),
        started_at=_when(r["started_at"]),
        finished_at=_when(r["finished_at"]),
        summary=r["summary"],
        error=r["error"],
        result=json.loads(r["result"]) if r["result"] else {},
    )


def default_url() -> str:
    """``TAGCLOUD_JOBS_DB``, else ``<TAGCLOUD_VAR_DIR or var/web>/jobs.sqlite``."""
    url = os.environ.get("TAGCLOUD_JOBS_DB", "")
    if url:
        return url
    var = Path(os.environ.get("TAGCLOUD_VAR_DIR", "var/web")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{var / 'jobs.sqlite'}"


def worker_name() -> str:
    """``host:pid``: a worker on the same host can tell whether the process still lives."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str | None) -> bool:
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's worker: only its lease can tell
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    """The job records. ``url``: ``sqlite:///path`` or ``postgresql://…`` (default: ``default_url()``)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        self.db: Backend = open_backend(self.url)
        with self.db.transaction(plain=True):
            for stmt in (s.strip() for s in _SCHEMA.replace("{id}", self.db.id_column).split(";")):
                if stmt:
                    self.db.conn.execute(stmt)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading -----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        rows = self.db.q(f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE job_id=?", (job_id,))
        if not rows:
            raise KeyError(f"no job {job_id!r}")
        return _job(rows[0])

    def jobs(
        self,
        states: set[JobState] | frozenset[JobState] | None = None,
        kind: str | None = None,
        lock_key: str | None = None,
        limit: int = 200,
    ) -> list[Job]:
        """Newest first, filtered by state, kind, lock."""
        where, params = ["1=1"], []
        if states:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params += [s.value for s in sorted(states)]
        if kind:
            where.append("kind=?")
            params.append(kind)
        if lock_key:
            where.append("lock_key=?")
            params.append(lock_key)
        rows = self.db.q(
            f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE {' AND '.join(where)} "
            f"ORDER BY created_at DESC, job_id LIMIT {int(limit)}",
            params,
        )
        return [_job(r) for r in rows]

    def latest(self, lock_key: str) -> Job | None:
        """The newest job holding ``lock_key`` (e.g. a campaign's latest pass)."""
        found = self.jobs(lock_key=lock_key, limit=1)
        return found[0] if found else None

    def log(self, job_id: str) -> list[tuple[dt.datetime, int, str]]:
        return [
            (_when(at) or dt.datetime.now(), int(attempt), line)
            for at, attempt, line in self.db.q(
                "SELECT at, attempt, line FROM job_log WHERE job_id=? ORDER BY line_id", (job_id,)
            )
        ]

    # ---- submitting --------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        args: dict[str, Any] | None = None,
        title: str = "",
        region_id: str | None = None,
        dedupe_key: str | None = None,
        lock_key: str | None = None,
        max_attempts: int = 3,
    ) -> tuple[Job, bool]:
        """Record a new queued job; returns (job, created). A ``dedupe_key`` seen before returns
        the job it made (a schedule's tick submitted by two workers makes one job); a
        ``lock_key`` with an open job raises ``JobBusy``."""
        job_id = uuid.uuid4().hex[:16]
        with self.db.transaction(plain=True):
            if dedupe_key is not None:
                old = self.db.q("SELECT job_id FROM jobs WHERE dedupe_key=?", (dedupe_key,))
                if old:
                    return self.get(old[0][0]), False
            if lock_key is not None:
                busy = self.db.q(
                    "SELECT job_id FROM jobs WHERE lock_key=? AND state IN ('queued', 'running')", (lock_key,)
                )
                if busy:
                    raise JobBusy(lock_key, busy[0][0])
            self.db.q(
                "INSERT INTO jobs (job_id, kind, args, title, region_id, state, max_attempts, dedupe_key, "
                "lock_key, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (
                    job_id,
                    kind,
                    json.dumps(args or {}, sort_keys=True, default=str),
                    title or kind,
                    region_id,
                    max_attempts,
                    dedupe_key,
                    lock_key,
                    time.time(),
                ),
            )
        return self.get(job_id), True

    def mark_enqueued(self, job_id: str) -> None:
        self.db.count("UPDATE jobs SET enqueued_at=? WHERE job_id=?", (time.time(), job_id))

    # ---- a worker's side -------------------------------------------------------------------
    def claim(self, job_id: str, worker: str, lease: float) -> int | None:
        """Take a queued job (one atomic UPDATE: of two workers, one wins). Returns the attempt
        number, or None when the job is not queued (done, running elsewhere, cancelled)."""
        now = time.time()
        with self.db.transaction(plain=True):
            n = self.db.count(
                "UPDATE jobs SET state='running', attempts=attempts+1, worker=?, lease_until=?, "
                "started_at=COALESCE(started_at, ?) WHERE job_id=? AND state='queued' AND cancel_requested=0",
                (worker, now + lease, now, job_id),
            )
            if n != 1:
                return None
            return int(self.db.q("SELECT attempts FROM jobs WHERE job_id=?", (job_id,))[0][0])

    def renew(self, job_id: str, worker: str, lease: float) -> bool | None:
        """Extend the lease; returns whether a cancel was asked, or None if the job is no longer
        this worker's (its lease ran out and another took it)."""
        with self.db.transaction(plain=True):
            n = self.db.count(
                "UPDATE jobs SET lease_until=? WHERE job_id=? AND worker=? AND state='running'",
                (time.time() + lease, job_id, worker),
            )
            if n != 1:
                return None
            return bool(self.db.q("SELECT cancel_requested FROM jobs WHERE job_id=?", (job_id,))[0][0])

    def progress(self, job_id: str, done: int, total: int | None = None) -> None:
        self.db.count(
            "UPDATE jobs SET done=?, total=COALESCE(?, total) WHERE job_id=? AND state='running'",
            (int(done), None if total is None else int(total), job_id),
        )

    def write_log(self, job_id: str, attempt: int, line: str) -> None:
        self.db.q(
            "INSERT INTO job_log (job_id, at, attempt, line) VALUES (?, ?, ?, ?)",
            (job_id, time.time(), attempt, line[:4000]),
        )

    def finish(
        self,
        job_id: str,
        worker: str,
        state: JobState,
        summary: str | None = None,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """Write the outcome, if the job is still this worker's. A failure with attempts left goes
        back to the queue (returns True: the caller re-enqueues it)."""
        with self.db.transaction(plain=True):
            row = self.db.q(
                "SELECT attempts, max_attempts FROM jobs WHERE job_id=? AND worker=? AND state='running'",
                (job_id, worker),
            )
            if not row:
                return False
            again = state == JobState.FAILED and int(row[0][0]) < int(row[0][1])
            self.db.q(
                "UPDATE jobs SET state=?, summary=?, error=?, result=?, finished_at=?, lease_until=NULL, "
                "worker=? WHERE job_id=?",
                (
                    JobState.QUEUED.value if again else state.value,
                    summary,
                    error,
                    json.dumps(result or {}, default=str),
                    None if again else time.time(),
                    None if again else worker,
                    job_id,
                ),
            )
        return again

    def recover(self, now: float | None = None) -> list[str]:
        """Take back running jobs whose worker is gone (lease run out, or a dead process on this
        host): back to the queue while attempts remain, else failed. Returns the re-queued ids."""
        now = now or time.time()
        back: list[str] = []
        with self.db.transaction(plain=True):
            rows = self.db.q(
                "SELECT job_id, worker, lease_until, attempts, max_attempts FROM jobs WHERE state='running'"
            )
            for job_id, worker, lease_until, attempts, max_attempts in rows:
                if (lease_until or 0) >= now and _alive(worker):
                    continue
                lost = f"worker {worker} stopped (lease ran out or process gone) during attempt {attempts}"
                if int(attempts) < int(max_attempts):
                    self.db.q(
                        "UPDATE jobs SET state='queued', worker=NULL, lease_until=NULL, error=? WHERE job_id=?",
                        (lost, job_id),
                    )
                    back.append(job_id)
                else:
                    self.db.q(
                        "UPDATE jobs SET state='failed', error=?, finished_at=?, lease_until=NULL WHERE job_id=?",
                        (lost, now, job_id),
                    )
                self.db.q(
                    "INSERT INTO job_log (job_id, at, attempt, line) VALUES (?, ?, ?, ?)",
                    (job_id, now, attempts, lost),
                )
        return back

    def orphans(self, older_than: float) -> list[str]:
        """Queued jobs whose queue message may be lost (enqueued long ago, or never)."""
        cut = time.time() - older_than
        return [
            r[0]
            for r in self.db.q(
                "SELECT job_id FROM jobs WHERE state='queued' AND cancel_requested=0 "
                "AND (enqueued_at IS NULL OR enqueued_at < ?) AND created_at < ?",
                (cut, cut),
            )
        ]

    # ---- a user's side ----------------------------------------------------------------------
    def cancel(self, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one is asked to stop (at its next check)."""
        with self.db.transaction(plain=True):
            j = self.get(job_id)
            if j.state == JobState.QUEUED:
                self.db.q(
                    "UPDATE jobs SET state='cancelled', cancel_requested=1, finished_at=? WHERE job_id=?",
                    (time.time(), job_id),
                )
            elif j.state == JobState.RUNNING:
                self.db.q("UPDATE jobs SET cancel_requested=1 WHERE job_id=?", (job_id,))
            else:
                raise ValueError(
                    f"job {job_id} is {j.state.value}: only a queued or running job can be cancelled"
                )
        return self.get(job_id)

    def retry(self, job_id: str) -> Job:
        """A failed or cancelled job back in the queue, with one more attempt allowed."""
        with self.db.transaction(plain=True):
            j = self.get(job_id)
            if j.state not in (JobState.FAILED, JobState.CANCELLED):
                raise ValueError(
                    f"job {job_id} is {j.state.value}: only a failed or cancelled job is retried"
                )
            if j.lock_key is not None:
                busy = self.db.q(
                    "SELECT job_id FROM jobs WHERE lock_key=? AND state IN ('queued', 'running')",
                    (j.lock_key,),
                )
                if busy:
                    raise JobBusy(j.lock_key, busy[0][0])
            self.db.q(
                "UPDATE jobs SET state='queued', cancel_requested=0, max_attempts=?, finished_at=NULL, "
                "enqueued_at=NULL WHERE job_id=?",
                (j.attempts + 1, job_id),
            )
        return self.get(job_id)

    # ---- chains of steps (the daily chain) ----------------------------------------------------
    def step_done(self, chain_key: str, step: str) -> str | None:
        """The summary of a chain's step already done (None when it is still to do)."""
        rows = self.db.q("SELECT summary FROM job_steps WHERE chain_key=? AND step=?", (chain_key, step))
        return (rows[0][0] or "done") if rows else None

    def mark_step(self, chain_key: str, step: str, job_id: str, summary: str) -> None:
        self.db.q(
            "INSERT INTO job_steps (chain_key, step, job_id, done_at, summary) VALUES (?, ?, ?, ?, ?)",
            (chain_key, step, job_id, time.time(), summary),
        )
