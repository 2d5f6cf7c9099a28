"""kill -9 at kill points of the five job types, then a restart: the end state of a run never killed.

CI runs one point per job type (the one that found or guards a real failure); every point (≥ 20 per
job type, generated from the calls the job really makes) runs in ``bench/robustness.py --only crash``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.crash_scenarios import SCENARIOS
from tests.robustness.killpoints import KillPoint

pytestmark = pytest.mark.slow

# (job, target, when, which call: 0 the first, -1 the last, 0.5 the middle of those counted)
QUICK: list[tuple[str, str, str, float]] = [
    # a file's commit: moved into the warehouse, the ledger not yet told
    ("ingest", "os:replace", "after", 0.5),
    # a cache record cut half-way wedged every later build (JSONDecodeError) before it was atomic
    ("build", "pathlib:Path.write_text", "torn", 0),
    # the CURRENT pointer cut half-way named no index before it was replaced whole
    ("index", "pathlib:Path.write_text", "torn", -1),
    # the submit_sm is on the wire, its answer never read: UNKNOWN, settled from the SMSC's journal
    ("campaign", "tagcloud.campaigns.channels.smpp:SmppClient._send", "after", 0.5),
    ("realtime", "tagcloud.campaigns.channels.smpp:SmppClient._send", "after", 0.5),
]


def _pick(points: list[KillPoint], target: str, when: str, which: float) -> KillPoint:
    ns = sorted({p.n for p in points if p.target == target and p.when == when})
    assert ns, f"no kill point {target} {when} among {sorted({p.target for p in points})}"
    n = ns[-1] if which == -1 else ns[min(len(ns) - 1, int(len(ns) * which))]
    return KillPoint(target, when, n)


@pytest.mark.parametrize(("job", "target", "when", "which"), QUICK, ids=[q[0] for q in QUICK])
def test_killed_at_a_point_restarts_to_the_same_end_state(
    job: str, target: str, when: str, which: float, tmp_path: Path
) -> None:
    scenario = SCENARIOS[job](tmp_path)
    calls = scenario.discover()
    points = scenario.points()
    # the suite has at least 20 points per job type, over candidates the job really calls
    assert len(points) >= 20, (len(points), calls)
    assert len(calls) >= 5, calls
    out = scenario.run_point(_pick(points, target, when, which))
    assert out.violations == []
    assert out.counts["killed"] == 1 and out.counts["restarted"] == 1
    assert out.counts["duplicate SMS"] == 0 and out.counts["missed SMS"] == 0
    if job in ("campaign", "realtime"):
        # the kill left messages in flight, and the SMSC's journal settled every one of them
        assert out.counts["in flight at the kill"] > 0
        assert out.counts["SMSC took it"] + out.counts["SMSC never took it: resent"] >= 1
        assert out.counts["left unknown"] == 0 and out.counts["cap violations"] == 0
