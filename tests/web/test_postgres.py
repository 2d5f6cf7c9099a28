"""The platform on its operator-scale backends: the whole web and campaign suites run again with the
web database on PostgreSQL and the cache and sessions on Redis (one suite, two set-ups). Each server
that does not answer is named in the skip reason; with PostgreSQL alone the run still happens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PG_URL = os.environ.get("TAGCLOUD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TAGCLOUD_TEST_REDIS", "redis://127.0.0.1:6379/15")

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def postgres_unavailable() -> str | None:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as e:
        return f"PostgreSQL not reachable at {PG_URL}: {e}"
    return None


def redis_unavailable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as e:
        return f"Redis not reachable at {REDIS_URL}: {e}"
    return None


def test_web_and_campaign_suites_on_postgresql_and_redis() -> None:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    tests = Path(__file__).parents[1]
    run_id = os.getpid()
    env = {
        **os.environ,
        "TAGCLOUD_DATABASE_URL": PG_URL,
        "TAGCLOUD_TEST_DATABASE": f"test_tagcloud_web_{run_id}",
    }
    no_redis = redis_unavailable()
    if no_redis is None:
        # its own key prefix: a concurrent run on the same server never reads this run's sessions
        env |= {"TAGCLOUD_CACHE_URL": REDIS_URL, "TAGCLOUD_CACHE_PREFIX": f"tagcloud-test-{run_id}"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tests / "web"),
            str(tests / "campaigns"),
            "-q",
            "-p",
            "no:cacheprovider",
            "--create-db",
            # this file would start itself again; the campaign ledger's own PostgreSQL tests ran already
            "--ignore",
            str(Path(__file__)),
            "-m",
            "not postgres",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tests.parent,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
    if no_redis:
        pytest.skip(f"the suites passed on PostgreSQL, but not with Redis for cache and sessions: {no_redis}")


def test_sessions_live_in_redis_when_configured() -> None:
    """With TAGCLOUD_CACHE_URL set, a login's session is in Redis (and written through to the DB)."""
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    code = (
        "import django, os; django.setup();"
        "from django.conf import settings; from django.core.cache import cache;"
        "from django.contrib.sessions.backends.cached_db import SessionStore;"
        "assert settings.SESSION_ENGINE.endswith('cached_db'), settings.SESSION_ENGINE;"
        "cache.set('probe', 41 + 1); assert cache.get('probe') == 42;"
        "import redis; r = redis.Redis.from_url(os.environ['TAGCLOUD_CACHE_URL']);"
        "keys = [k.decode() for k in r.keys(os.environ['TAGCLOUD_CACHE_PREFIX'] + ':*')];"
        "assert any(k.endswith(':probe') for k in keys), keys; cache.delete('probe'); print('ok')"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tagcloud.web.settings",
        "TAGCLOUD_CACHE_URL": REDIS_URL,
        "TAGCLOUD_CACHE_PREFIX": f"tagcloud-probe-{os.getpid()}",
    }
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
