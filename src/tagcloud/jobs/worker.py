"""Running jobs: submit (record + queue message), execute one (claim, heartbeat, outcome), the
sweeper that takes back jobs of lost workers, schedules fired each minute, and the worker process
(``tagcloud worker``: Huey's consumer with threads, plus the sweeper)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from tagcloud.jobs import registry
from tagcloud.jobs.queue import get_huey
from tagcloud.jobs.store import Job, JobBusy, JobState, JobStore, worker_name

log = logging.getLogger("tagcloud.jobs")


def lease_seconds() -> float:
    """How long a claim lasts without renewal (``TAGCLOUD_JOB_LEASE_SECONDS``, 60); renewed every third."""
    return float(os.environ.get("TAGCLOUD_JOB_LEASE_SECONDS", "") or 60)


_tasks: dict[int, dict[str, Any]] = {}


def _tasks_of(huey: Any) -> dict[str, Any]:
    """The two Huey tasks on a queue: run one job by id; the minute tick that fires schedules."""
    from huey import crontab

    if id(huey) not in _tasks:

        @huey.task(name="tagcloud.run_job")
        def run_job(job_id: str) -> None:
            execute(job_id)

        @huey.periodic_task(crontab(minute="*"), name="tagcloud.tick")
        def tick() -> None:
            fire_schedules(dt.datetime.now().replace(second=0, microsecond=0))

        _tasks[id(huey)] = {"run_job": run_job, "tick": tick}
    return _tasks[id(huey)]


def enqueue(job_id: str, delay: float = 0) -> None:
    """Put a job id on the queue (a worker claims it from the job store)."""
    task = _tasks_of(get_huey())["run_job"]
    if delay > 0:
        task.schedule((job_id,), delay=delay)
    else:
        task(job_id)


class JobCancelled(Exception):
    """Raised by ``JobContext.check_cancelled`` when a user cancelled the running job."""


class JobContext:
    """What a job function gets: its record, and the means to report progress and log lines."""

    def __init__(self, store: JobStore, job: Job, attempt: int, worker: str) -> None:
        self.store, self.job, self.attempt, self.worker = store, job, attempt, worker
        self.cancel_asked = False
        self.progress_probe: Callable[[], tuple[int, int | None]] | None = None

    @property
    def job_id(self) -> str:
        return self.job.job_id

    def log(self, line: str) -> None:
        self.store.write_log(self.job_id, self.attempt, line)

    def progress(self, done: int, total: int | None = None) -> None:
        self.store.progress(self.job_id, done, total)

    def check_cancelled(self) -> None:
        if self.cancel_asked:
            raise JobCancelled(f"job {self.job_id} cancelled")

    def watch_progress(self, probe: Callable[[], tuple[int, int | None]]) -> None:
        """Have the heartbeat read progress from ``probe()`` → (done, total) on each beat (e.g. a
        ledger count), for work that does not report it itself. The probe runs on another thread."""
        self.progress_probe = probe

    def step(self, chain_key: str, name: str, fn: Callable[[], str]) -> str:
        """Run one step of a chain unless it is already done for ``chain_key`` (e.g. a day)."""
        done = self.store.step_done(chain_key, name)
        if done is not None:
            self.log(f"{name}: already done for {chain_key} ({done}); skipped")
            return done
        self.check_cancelled()
        self.log(f"{name}: started")
        started = time.perf_counter()
        summary = fn() or "done"
        self.store.mark_step(chain_key, name, self.job_id, summary)
        self.log(f"{name}: {summary} ({time.perf_counter() - started:,.1f} s)")
        return summary


class _Heartbeat(threading.Thread):
    """Renews the job's lease (own connection), reads cancel requests and progress probes."""

    def __init__(self, ctx: JobContext, lease: float, url: str) -> None:
        super().__init__(name=f"heartbeat {ctx.job_id}", daemon=True)
        self.ctx, self.lease, self.url = ctx, lease, url
        self.stopped = threading.Event()

    def run(self) -> None:
        with JobStore(self.url) as store:
            while not self.stopped.wait(max(self.lease / 3, 0.2)):
                asked = store.renew(self.ctx.job_id, self.ctx.worker, self.lease)
                if asked is None:
                    log.warning("job %s is no longer this worker's", self.ctx.job_id)
                    return
                self.ctx.cancel_asked = self.ctx.cancel_asked or asked
                probe = self.ctx.progress_probe
                if probe is not None:
                    try:
                        done, total = probe()
                        store.progress(self.ctx.job_id, done, total)
                    except Exception as e:  # a progress reading never stops the job
                        log.warning("progress of %s: %s", self.ctx.job_id, e)


def submit(
    kind: str,
    args: dict[str, Any] | None = None,
    title: str = "",
    region_id: str | None = None,
    dedupe_key: str | None = None,
    lock_key: str | None = None,
    url: str | None = None,
) -> Job:
    """Record a job and queue it; returns its record (an earlier one for a seen ``dedupe_key``).
    Raises ``JobBusy`` when ``lock_key`` has an open job, KeyError for an unknown kind."""
    registry.load_plugins()
    k = registry.KINDS.get(kind)
    if k is None:
        raise KeyError(f"unknown job kind {kind!r}; known: {', '.join(sorted(registry.KINDS))}")
    with JobStore(url) as store:
        job, created = store.submit(
            kind, args, title or k.title, region_id, dedupe_key, lock_key, max_attempts=k.max_attempts
        )
        if created:
            enqueue(job.job_id)
            store.mark_enqueued(job.job_id)
    return job


def execute(job_id: str, url: str | None = None, lease: float | None = None) -> JobState | None:
    """Run one job if this worker can claim it; returns its new state (None: not ours to run)."""
    registry.load_plugins()
    lease = lease or lease_seconds()
    me = f"{worker_name()}:{threading.get_ident()}"
    with JobStore(url) as store:
        attempt = store.claim(job_id, me, lease)
        if attempt is None:
            return None
        job = store.get(job_id)
        kind = registry.KINDS.get(job.kind)
        ctx = JobContext(store, job, attempt, me)
        if kind is None:
            store.finish(job_id, me, JobState.FAILED, error=f"unknown job kind {job.kind!r} on this worker")
            return JobState.FAILED
        ctx.log(f"attempt {attempt} on {me}")
        beat = _Heartbeat(ctx, lease, store.url)
        beat.start()
        try:
            summary = kind.fn(ctx, **job.args)
        except JobCancelled:
            beat.stopped.set()
            ctx.log("cancelled")
            store.finish(job_id, me, JobState.CANCELLED, summary="cancelled")
            return JobState.CANCELLED
        except Exception as e:
            beat.stopped.set()
            err = f"{type(e).__name__}: {e}"
            ctx.log(traceback.format_exc(limit=8))
            again = store.finish(job_id, me, JobState.FAILED, error=err)
            if again:
                base = float(os.environ.get("TAGCLOUD_JOB_RETRY_SECONDS", "") or 5)
                delay = min(base * 2 ** (attempt - 1), 300)
                ctx.log(f"failed ({err}); retrying in {delay} s")
                enqueue(job_id, delay=delay)
                store.mark_enqueued(job_id)
                return JobState.QUEUED
            return JobState.FAILED
        finally:
            beat.stopped.set()
            beat.join(timeout=5)
        text = summary if isinstance(summary, str) else "done"
        result = summary if isinstance(summary, dict) else {}
        ctx.log(text)
        store.finish(job_id, me, JobState.SUCCEEDED, summary=text, result=result)
        return JobState.SUCCEEDED


def sweep(url: str | None = None, orphan_seconds: float = 600) -> list[str]:
    """Put back on the queue the jobs of lost workers, and queued jobs whose message was lost."""
    with JobStore(url) as store:
        ids = store.recover() + store.orphans(orphan_seconds)
        for job_id in ids:
            enqueue(job_id)
            store.mark_enqueued(job_id)
    return ids


def fire_schedules(when: dt.datetime, url: str | None = None) -> list[Job]:
    """Submit every schedule due at ``when`` (a minute). Each firing has one job however many
    workers tick: its dedupe key is the schedule's name and minute."""
    registry.load_plugins()
    out = []
    for s in registry.SCHEDULES.values():
        if not s.due(when):
            continue
        args = s.args(when) if callable(s.args) else dict(s.args)
        try:
            out.append(
                submit(
                    s.kind,
                    args,
                    dedupe_key=f"schedule:{s.name}:{when:%Y-%m-%dT%H:%M}",
                    lock_key=f"schedule:{s.name}" if s.lock else None,
                    url=url,
                )
            )
        except JobBusy as e:
            log.info("schedule %s: %s", s.name, e)
    return out


class _Sweeper(threading.Thread):
    def __init__(self, every: float) -> None:
        super().__init__(name="jobs sweeper", daemon=True)
        self.every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                back = sweep()
                if back:
                    log.warning("re-queued %d job(s) of lost workers: %s", len(back), ", ".join(back))
            except Exception as e:  # the next sweep tries again
                log.warning("sweep failed: %s", e)


def run_worker(threads: int = 2) -> None:
    """The worker process: take back lost jobs, then Huey's consumer (``threads`` threads, the
    minute tick for schedules) until SIGINT/SIGTERM, with the sweeper beside it."""
    registry.load_plugins()
    back = sweep()
    if back:
        log.warning("re-queued %d job(s) of lost workers at start: %s", len(back), ", ".join(back))
    sweeper = _Sweeper(max(lease_seconds() / 2, 1.0))
    sweeper.start()
    huey = get_huey()
    _tasks_of(huey)
    consumer = huey.create_consumer(workers=threads, worker_type="thread", periodic=True)
    try:
        consumer.run()
    finally:
        sweeper.stopped.set()


class InProcessWorker(threading.Thread):
    """A worker thread inside this process (the web tests run one beside their live server; an
    install runs ``tagcloud worker``): takes messages off the same queue and runs them with
    ``execute``, sweeps lost jobs and moves due retries; no minute tick (schedules)."""

    def __init__(self, poll: float = 0.05) -> None:
        super().__init__(name="jobs in-process worker", daemon=True)
        self.poll = poll
        self.stopped = threading.Event()

    def run(self) -> None:
        registry.load_plugins()
        huey = get_huey()
        _tasks_of(huey)
        last_sweep = 0.0
        while not self.stopped.is_set():
            if time.monotonic() - last_sweep > max(lease_seconds() / 2, 1.0):
                sweep()
                for due in huey.read_schedule(dt.datetime.now()):  # retries with a delay
                    huey.enqueue(due)
                last_sweep = time.monotonic()
            task = huey.dequeue()
            if task is None:
                self.stopped.wait(self.poll)
                continue
            try:
                huey.execute(task)
            except Exception as e:  # execute records the job's failure; the loop goes on
                log.warning("task %s: %s", task, e)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)
