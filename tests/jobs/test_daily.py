"""The daily chain on a small simulated drop: a landed drop is submitted once, the chain runs
ingest → models → build → index into a warehouse with an audience index, and a chain for a drop
already (partly) done skips the steps done and runs the rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tagcloud.jobs.store import JobState, JobStore
from tagcloud.jobs.worker import execute, submit

# The chain does not depend on the queue's storage (tests/jobs/test_worker.py covers both).
pytestmark = pytest.mark.parametrize("queue", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tagcloud.sim.simulate import simulate

    root = tmp_path_factory.mktemp("drops")
    simulate(root / "20261110", subscribers=300, days=2, seed=5, quiet=True)
    (root / "20261111").mkdir()  # a transfer still under way: no ready marker yet
    return root / "20261110"


def test_a_landed_drop_is_submitted_once(queue: str, drop: Path, tmp_path: Path) -> None:
    from tagcloud.jobs.daily import landed

    assert landed(drop.parent) == [drop]
    args = {"drop_dir": str(drop.parent), "warehouse": str(tmp_path / "wh")}
    first = submit("daily.watch", args)
    assert execute(first.job_id) == JobState.SUCCEEDED
    again = submit("daily.watch", args)
    assert execute(again.job_id) == JobState.SUCCEEDED
    with JobStore() as s:
        chains = s.jobs(kind="daily.chain")
        assert [c.args["drop"] for c in chains] == [str(drop.resolve())]
        assert s.get(first.job_id).summary == "1 new drop(s): 20261110"
        assert s.get(again.job_id).summary == "no new drop"


@pytest.mark.slow
def test_the_chain_runs_each_step_once_per_drop(queue: str, drop: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    part = submit("daily.chain", {"drop": str(drop), "warehouse": str(wh), "steps": ["ingest"]})
    assert execute(part.job_id) == JobState.SUCCEEDED
    full = submit("daily.chain", {"drop": str(drop), "warehouse": str(wh)})
    assert execute(full.job_id) == JobState.SUCCEEDED, JobStore().get(full.job_id).error
    with JobStore() as s:
        log = [line for _, _, line in s.log(full.job_id)]
        j = s.get(full.job_id)
    assert any(line.startswith("ingest: already done") for line in log)
    assert [x.split(":")[0] for x in log if x.endswith(" s)")] == ["models", "build", "index"]
    assert (j.done, j.total) == (4, 4)
    assert (wh / "index" / "CURRENT").exists() and os.listdir(wh / "tables")
    # The whole chain again for the same drop: nothing to do.
    again = submit("daily.chain", {"drop": str(drop), "warehouse": str(wh)})
    assert execute(again.job_id) == JobState.SUCCEEDED
    with JobStore() as s:
        assert sum("already done" in line for _, _, line in s.log(again.job_id)) == 4


def test_a_missing_drop_fails_with_its_path(queue: str, tmp_path: Path) -> None:
    job = submit("daily.chain", {"drop": str(tmp_path / "nope"), "warehouse": str(tmp_path / "wh")})
    os.environ["TAGCLOUD_JOB_RETRY_SECONDS"] = "0"
    try:
        execute(job.job_id)
    finally:
        del os.environ["TAGCLOUD_JOB_RETRY_SECONDS"]
    with JobStore() as s:
        assert "does not exist" in (s.get(job.job_id).error or "")
