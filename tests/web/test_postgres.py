"""The platform on PostgreSQL: the web tests that touch the database (accounts, roles, scoping,
audit, groups, proposals, the scoped lookups and counts) run again against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PG_URL = os.environ.get("TAGCLOUD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _unavailable() -> str | None:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as e:
        return f"PostgreSQL not reachable at {PG_URL}: {e}"
    return None


def test_web_suite_on_postgresql() -> None:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    here = Path(__file__).parent
    env = {
        **os.environ,
        "TAGCLOUD_DATABASE_URL": PG_URL,
        "TAGCLOUD_TEST_DATABASE": f"test_tagcloud_web_{os.getpid()}",
    }
    files = [
        "test_platform.py",
        "test_customer.py",
        "test_knowledge.py",
        "test_tags.py::test_change_proposal_goes_through_review",
        "test_audience.py::test_save_split_and_combine",
        "test_audience.py::test_export_is_masked_and_audited",
        "test_authz.py::test_customer_lookup_by_role_and_region",
    ]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *(str(here / f) for f in files),
            "-q",
            "-p",
            "no:cacheprovider",
            "--create-db",
            "-m",
            "not postgres and not browser",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=here.parents[1],
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
