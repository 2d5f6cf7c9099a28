"""One job suite, every backend: the queue on Huey's SQLite storage always and on Redis when one
answers at 127.0.0.1:6379; the job records on SQLite always and on PostgreSQL when it answers."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.campaigns.conftest import PG_DSN, postgres_unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_unavailable() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis client is not installed"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as e:
        return f"no Redis at {REDIS_URL} ({e})"
    return None


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def queue(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment of one install (var dir, job records, queue) with the queue on SQLite or Redis."""
    if request.param == "redis":
        reason = redis_unavailable()
        if reason:
            pytest.skip(reason)
        url = REDIS_URL
    else:
        url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    name = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("TAGCLOUD_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("TAGCLOUD_JOBS_DB", f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    monkeypatch.setenv("TAGCLOUD_JOBS_QUEUE", url)
    monkeypatch.setenv("TAGCLOUD_JOBS_QUEUE_NAME", name)
    monkeypatch.setenv("TAGCLOUD_JOB_MODULES", "tests.jobs.kinds")
    monkeypatch.setenv("TAGCLOUD_TEST_RUNS_DB", str(tmp_path / "runs.sqlite"))
    yield request.param
    from tagcloud.jobs.queue import get_huey

    get_huey().flush()  # this test's queue only (its own name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite'}"
        return
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"j_{uuid.uuid4().hex[:12]}"
    yield f"{PG_DSN}?schema={schema}"
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def runs(db: Path | str) -> list[tuple[Any, ...]]:
    """(job_id, attempt, pid) of every execution the test kinds recorded."""
    if not Path(db).exists():
        return []
    with sqlite3.connect(db) as c:
        return list(c.execute("SELECT job_id, attempt, pid FROM runs ORDER BY at"))
