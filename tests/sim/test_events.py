from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from tagcloud.realtime.events import EventType, parse_event
from tagcloud.sim.events import OUT_OF_NEED, acceptance, simulate_events
from tagcloud.sim.truth import GroundTruth


def test_stream_is_valid_and_shaped_by_persona_hour_and_festival(small_province: Path) -> None:
    truth = GroundTruth.load(small_province)
    normal = simulate_events(truth, dt.date(2026, 9, 16), seed=1)
    assert len({e.event_id for e in normal.events}) == len(normal.events) > 500
    assert [e.ts for e in normal.events] == sorted(e.ts for e in normal.events)
    for e in normal.events[:: max(1, len(normal.events) // 300)]:
        assert parse_event(e.to_json()) == e  # the wire form validates back to the same event
    persona = dict(zip(truth.column("msisdn").tolist(), truth.column("persona").tolist(), strict=True))
    roams = [e for e in normal.events if e.type == EventType.ROAM_IN]
    travellers = sum(1 for v in persona.values() if v == "business_traveller")
    by_traveller = sum(1 for e in roams if persona[e.msisdn] == "business_traveller") / max(travellers, 1)
    by_other = sum(1 for e in roams if persona[e.msisdn] != "business_traveller") / (
        len(persona) - travellers
    )
    assert by_traveller > 5 * by_other
    hours = np.bincount([e.ts.hour for e in normal.events], minlength=24)
    assert hours[8] + hours[18] > 5 * (hours[2] + hours[3])  # rush hour vs night
    festival = simulate_events(truth, dt.date(2026, 10, 1), seed=1)  # National Day
    n_roam = lambda s: sum(1 for e in s.events if e.type == EventType.ROAM_IN)  # noqa: E731
    assert n_roam(festival) > 2 * n_roam(normal)
    # the same day and seed give the same stream
    again = simulate_events(truth, dt.date(2026, 9, 16), seed=1)
    assert [e.to_json() for e in again.events[:50]] == [e.to_json() for e in normal.events[:50]]


def test_need_windows_make_timing_matter(small_province: Path) -> None:
    truth = GroundTruth.load(small_province)
    s = simulate_events(truth, dt.date(2026, 9, 16), seed=2)
    q = [e for e in s.events if e.type in (EventType.QUOTA_80, EventType.ROAM_IN)]
    ms = np.array([int(e.msisdn) for e in q], np.int64)
    at = np.array([e.ts for e in q], "datetime64[s]")
    assert s.in_need(ms, "DP_10G", at + np.timedelta64(60, "s")).all()
    assert not s.in_need(ms, "DP_10G", at - np.timedelta64(3600 * 24 * 30, "s")).any()
    now = acceptance(truth, s, ms, "DP_10G", "sms", at)
    before = acceptance(truth, s, ms, "DP_10G", "sms", at - np.timedelta64(3600 * 24 * 30, "s"))
    assert np.allclose(before, now * OUT_OF_NEED)


def test_bad_events_are_mixed_in_on_request(small_province: Path) -> None:
    truth = GroundTruth.load(small_province)
    s = simulate_events(truth, dt.date(2026, 9, 16), seed=3, bad_share=0.01)
    ids = [e.event_id for e in s.events]
    assert len(ids) > len(set(ids))  # reused ids
    assert any(e.msisdn == "19999999999" for e in s.events)
