"""The test profile: knobs drawn from their documented ranges, written to the manifest, realism applied."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tagcloud.sim.profile import TEST_RANGES, Knobs, knobs_for


def test_dev_is_the_defaults_and_test_draws_within_the_ranges() -> None:
    assert knobs_for("dev", 1) == Knobs()
    a, b = knobs_for("test", 1001), knobs_for("test", 1002)
    assert a == knobs_for("test", 1001) and a != b  # deterministic per seed, different across seeds
    for k in (a, b):
        for name, (lo, hi) in TEST_RANGES.items():
            assert lo <= getattr(k, name) <= hi, name
        assert len(k.migrant_hour_weights) == 24 and abs(sum(k.migrant_hour_weights) - 1) < 1e-3
        # migrants call at hours of their own, working hours included (a little)
        assert sum(w > 0 for w in k.migrant_hour_weights) == 24
        assert all(0.7 <= f <= 1.4 for f in k.persona_share_factors)
    assert a.persona_share_factors != b.persona_share_factors


def test_unknown_profile_is_named() -> None:
    with pytest.raises(ValueError, match="--profile must be one of dev, test"):
        knobs_for("prod", 1)


def test_test_province_records_its_knobs_and_realism(tmp_path: Path) -> None:
    from tagcloud.sim.simulate import simulate

    m = simulate(tmp_path, subscribers=1500, days=2, seed=1001, quiet=True, profile="test")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["profile"] == "test" and manifest["generator"] == knobs_for("test", 1001).manifest()
    assert m["generator"]["pingpong"] > 0
    truth = pq.read_table(tmp_path / "ground_truth" / "subscribers.parquet").to_pandas()
    campus = truth[truth["campus_daily"]]
    assert len(campus) > 0 and campus["school_type"].isna().all()  # staff and residents, not students
    # every campus-daily subscriber lives or works in a campus cell
    cells = pq.read_table(tmp_path / "cells").to_pandas().set_index("cell_id")["area_type"]
    at_campus = (cells.reindex(campus["home_cell"]).to_numpy() == "university") | (
        cells.reindex(campus["work_cell"]).to_numpy() == "university"
    )
    assert at_campus.all()
    uni = truth[truth["school_type"] == "university"]
    assert (cells.reindex(uni["home_cell"]).to_numpy() != "university").any()  # some live off campus
