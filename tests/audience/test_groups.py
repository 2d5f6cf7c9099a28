"""Saved groups, set operations and control groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagcloud.audience.groups import (
    combine,
    control_group,
    group_members,
    holdouts,
    list_groups,
    read_group,
    release_holdout,
    save_group,
    strata_codes,
)
from tagcloud.audience.query import AudienceEngine


@pytest.fixture()
def engine(warehouse: Path, tmp_path: Path) -> AudienceEngine:
    # each test gets its own groups folder over the shared index
    import shutil

    wh = tmp_path / "wh"
    wh.mkdir()
    for part in ("wide", "index"):
        (wh / part).symlink_to(warehouse / part)
    shutil.rmtree(wh / "groups", ignore_errors=True)
    return AudienceEngine.open(wh, can_unmask=True)


def test_saved_group_is_a_snapshot_with_condition_and_build(engine: AudienceEngine) -> None:
    g = save_group(engine, "car_owners", "tag_0001 AND arpu >= 50")
    assert g.members == engine.count("tag_0001 AND arpu >= 50") > 0
    info = read_group(engine.warehouse, "car_owners")
    assert info.condition == "tag_0001 AND arpu >= 50" and info.build_id == engine.index.build_id
    assert group_members(engine.warehouse, "car_owners", engine.index) == engine.members(
        "tag_0001 AND arpu >= 50"
    )
    assert list_groups(engine.warehouse)["name"].to_list() == ["car_owners"]
    with pytest.raises(FileExistsError):
        save_group(engine, "car_owners", "tag_0001")
    with pytest.raises(ValueError, match="group name"):
        save_group(engine, "../etc", "tag_0001")
    with pytest.raises(KeyError, match="did you mean 'car_owners'"):
        read_group(engine.warehouse, "car_owner")


def test_set_operations_match_bitmap_algebra(engine: AudienceEngine) -> None:
    save_group(engine, "a", "tag_0001 OR tag_0002")
    save_group(engine, "b", "brand = 'gotone'")
    save_group(engine, "c", "arpu > 100")
    a, b, c = (engine.members(x) for x in ("tag_0001 OR tag_0002", "brand = 'gotone'", "arpu > 100"))
    assert combine(engine, "u", "union", ["a", "b", "c"]).members == len(a | b | c)
    assert combine(engine, "i", "intersect", ["a", "b"]).members == len(a & b)
    assert combine(engine, "m", "minus", ["a", "b", "c"]).members == len(a - b - c)
    assert group_members(engine.warehouse, "m", engine.index) == a - b - c
    with pytest.raises(ValueError, match="not one of"):
        combine(engine, "x", "xor", ["a", "b"])


def test_control_groups_are_stratified_reproducible_and_never_overlap(engine: AudienceEngine) -> None:
    target = "tag_0001 OR tag_0002 OR brand = 'mzone'"
    audience = engine.members(target)
    table = control_group(engine, "spring", target, 0.2, seed=42)
    act = group_members(engine.warehouse, "spring.action", engine.index)
    ctl = group_members(engine.warehouse, "spring.control", engine.index)
    assert act | ctl == audience and not (act & ctl)
    # every stratum (county × ARPU tier) holds out its share, rounded
    ids = np.frombuffer(audience.to_array(), dtype=np.uint32)
    strata = strata_codes(engine, ids, ["county_id", "arpu"])
    held = np.isin(ids, np.frombuffer(ctl.to_array(), dtype=np.uint32))
    for s in np.unique(strata):
        n = int((strata == s).sum())
        assert int(held[strata == s].sum()) == int(np.floor(n * 0.2 + 0.5))
    assert int(table["control"].sum()) == len(ctl)
    # the same seed draws the same holdout; another seed another one
    control_group(engine, "spring", target, 0.2, seed=42, overwrite=True)
    assert group_members(engine.warehouse, "spring.control", engine.index) == ctl
    # a second campaign over an overlapping audience never touches spring's holdout
    control_group(engine, "summer", "tag_0002 OR arpu > 60", 0.3, seed=1)
    summer_ctl = group_members(engine.warehouse, "summer.control", engine.index)
    summer_act = group_members(engine.warehouse, "summer.action", engine.index)
    assert not (summer_ctl & ctl) and not (summer_act & ctl)
    assert set(holdouts(engine.warehouse)) == {"spring", "summer"}
    with pytest.raises(FileExistsError):
        control_group(engine, "summer", "tag_0002", 0.3)
    release_holdout(engine.warehouse, "spring")
    assert set(holdouts(engine.warehouse)) == {"summer"}
    with pytest.raises(ValueError, match="between 0 and 1"):
        control_group(engine, "autumn", "tag_0002", 1.5)
