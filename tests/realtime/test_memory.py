"""The contact memory, one suite over every backend (SQLite and Redis)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagcloud.realtime.memory import MemoryError_, MemoryOutcome, Recollection, open_memory, rebuild

NOW = dt.datetime(2026, 11, 20, 10, 0)
N = "13800000001"


def test_recall_newest_first_across_channels(memory: Any) -> None:
    memory.record(
        N, [Recollection("PL_388", "10086", MemoryOutcome.CONSIDERING, NOW - dt.timedelta(days=1), "C1")]
    )
    memory.record(N, [Recollection("PL_388", "hall", MemoryOutcome.ACCEPTED, NOW, "C1")])
    memory.record("13800000002", [Recollection("PL_X", "web_hall", MemoryOutcome.OFFERED, NOW)])
    got = memory.recall(N)
    assert [(r.channel, r.outcome) for r in got] == [("hall", "accepted"), ("10086", "considering")]
    assert got[1].source_id == "C1" and got[1].at == NOW - dt.timedelta(days=1)
    assert memory.latest(N)["PL_388"].outcome == MemoryOutcome.ACCEPTED
    assert got[1].phrase(NOW) == "considered at 10086 yesterday"
    assert got[1].phrase(NOW, "zh-hans") == "昨天在10086表示考虑"
    memory.forget(N)
    assert memory.recall(N) == [] and len(memory.recall("13800000002")) == 1


def test_one_record_is_all_or_nothing(memory: Any) -> None:
    good = Recollection("A", "hall", MemoryOutcome.OFFERED, NOW)
    with pytest.raises(MemoryError_, match="unknown channel"):
        memory.record(N, [good, Recollection("B", "fax", MemoryOutcome.OFFERED, NOW)])
    with pytest.raises(ValueError, match="maybe"):
        Recollection("B", "hall", "maybe", NOW)  # type: ignore[arg-type]
    assert memory.recall(N) == []


def test_concurrent_writers_lose_nothing(memory: Any) -> None:
    """8 threads × 20 records on one subscriber: every entry is there exactly once."""

    def work(t: int) -> None:
        for i in range(20):
            memory.record(
                N, [Recollection(f"O{t}-{i}", "10086", MemoryOutcome.OFFERED, NOW + dt.timedelta(seconds=i))]
            )

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = memory.recall(N, limit=1000)
    assert sorted(r.offer_id for r in got) == sorted(f"O{t}-{i}" for t in range(8) for i in range(20))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["hall", "10086", "web_hall", "sms_hall"])),
        max_size=30,
    )
)
def test_recall_is_the_newest_kept_in_time_order(memory: Any, touches: list[tuple[int, str]]) -> None:
    """Law: recall(limit) = the ``limit`` newest of what was recorded, newest first (ties any order)."""
    m = f"139{len(touches):08d}"
    memory.forget(m)
    for k, (minutes, ch) in enumerate(touches):
        memory.record(
            m, [Recollection(f"O{k}", ch, MemoryOutcome.OFFERED, NOW + dt.timedelta(minutes=minutes))]
        )
    got = memory.recall(m, limit=10)
    times = sorted((NOW + dt.timedelta(minutes=t) for t, _ in touches), reverse=True)[:10]
    assert [r.at for r in got] == times
    memory.forget(m)


def test_kept_entries_are_bounded(memory: Any) -> None:
    keep = memory.keep
    memory.record(
        N,
        [
            Recollection(f"O{i}", "hall", MemoryOutcome.OFFERED, NOW + dt.timedelta(seconds=i))
            for i in range(keep + 5)
        ],
    )
    got = memory.recall(N, limit=keep + 100)
    assert len(got) == keep and got[0].offer_id == f"O{keep + 4}"


def test_rebuild_from_the_ledger(memory: Any, ledger: Any) -> None:
    """The ledger is the record: a flushed memory comes back from its responses."""
    ledger.record_response(N, "PL_388", "10086", "considering", NOW - dt.timedelta(days=1), campaign_id="C1")
    ledger.record_response(N, "PL_388", "hall", "accepted", NOW, campaign_id="C1")
    memory.record(N, [Recollection("STALE", "app", MemoryOutcome.OFFERED, NOW)])
    assert rebuild(memory, ledger) == 2
    assert [(r.offer_id, r.channel, r.outcome) for r in memory.recall(N)] == [
        ("PL_388", "hall", "accepted"),
        ("PL_388", "10086", "considering"),
    ]


def test_bad_url() -> None:
    with pytest.raises(MemoryError_, match="sqlite:///"):
        open_memory("memcached://x")
