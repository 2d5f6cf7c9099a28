"""Real-time tests: every store runs on SQLite and on PostgreSQL (skipped with the reason when absent);
the contact memory on SQLite and on Redis (skipped with the reason when none answers at 127.0.0.1:6379)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.campaigns.conftest import PG_DSN, postgres_unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_unavailable() -> str | None:
    """None when a Redis server answers PING at REDIS_URL; else why not (the skip reason)."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except Exception as e:  # any failure to reach it is a reason to skip, named in the output
        return f"no Redis at {REDIS_URL} ({type(e).__name__}: {e}); start one with `redis-server --daemonize yes`"
    return None


def memory_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'memory.db'}"
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("redis", marks=pytest.mark.redis)])
def memory(request: Any, tmp_path: Path) -> Iterator[Any]:
    """A contact memory on each backend; Redis keys under a prefix of this test's own, removed after."""
    from tagcloud.realtime.memory import RedisMemory, open_memory

    url = memory_url(request.param, tmp_path)
    prefix = f"tagcloud:test:{uuid.uuid4().hex}:"
    m = open_memory(url, prefix=prefix) if request.param == "redis" else open_memory(url)
    yield m
    if isinstance(m, RedisMemory):
        for k in m.client.scan_iter(prefix + "*"):
            m.client.delete(k)
    m.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Any]:
    from tagcloud.campaigns.policy import ContactLedger

    with ContactLedger(f"sqlite:///{tmp_path / 'ledger.db'}") as led:
        yield led


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('rt') / 'rt.db'}"
        return
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{PG_DSN}?schema={schema}"
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
