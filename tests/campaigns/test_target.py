"""The target snapshot through the audience engine: tiers, control group from the engine, no overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagcloud.campaigns.execute import target_from_audience

from .helpers import demo_design


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.query import AudienceEngine
    from tagcloud.audience.synth import WideSpec, write_wide

    wh = tmp_path_factory.mktemp("wh")
    write_wide(wh, WideSpec(rows=6000, flags=4, enums=2, numbers=2, seed=3), quiet=True)
    build_index(wh, quiet=True)
    return AudienceEngine.open(wh, can_unmask=True)


@pytest.mark.slow
def test_target_tiers_and_control(engine, tmp_path: Path) -> None:
    d = demo_design(target="arpu >= 30", control_share=0.1)  # tiers: high = arpu >= 100, low = the rest
    t = target_from_audience(engine, d)
    assert len(t) == engine.count("arpu >= 30")
    high = set(engine.numbers(np.frombuffer(engine.members("arpu >= 100").to_array(), dtype=np.uint32)))
    assert {m for m, s in zip(t.msisdn, t.sub_campaign, strict=True) if s == "high"} == high
    assert abs(t.control.mean() - 0.1) < 0.02
    # a second campaign's control never overlaps the first one's holdout
    t2 = target_from_audience(engine, demo_design(campaign_id="CMP2", target="arpu >= 30"))
    assert not set(t.msisdn[t.control]) & set(t2.msisdn[t2.control])
    assert not set(t.msisdn[t.control]) & set(t2.msisdn)  # held out by CMP1: in neither group of CMP2
