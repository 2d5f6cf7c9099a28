from __future__ import annotations

from typing import Any

import pytest

from tagcloud.web.accounts.masking import mask_msisdn
from tagcloud.web.accounts.scope import NOTHING, RegionScope, descendants, scope_for_region

from .conftest import REGIONS

PARENTS = {r["region_id"]: r["parent_id"] for r in REGIONS}


def test_descendants_follow_the_hierarchy() -> None:
    assert descendants("X", PARENTS) == {"X", "XA", "XB", "XA1", "XA2", "XB1"}
    assert descendants("XA", PARENTS) == {"XA", "XA1", "XA2"}
    assert descendants("XA1", PARENTS) == {"XA1"}


def test_descendants_survive_a_cycle_in_edited_data() -> None:
    assert descendants("A", {"A": "B", "B": "A"}) == {"A", "B"}


def test_county_scope_allows_only_its_townships() -> None:
    s = scope_for_region("XA", "county", PARENTS, "甲一县")
    assert s.allows("XA1") and s.allows("XA2")
    assert not s.allows("XB1") and not s.allows("YA1") and not s.allows(None)


def test_province_scope_is_unrestricted() -> None:
    s = scope_for_region("P", "province", PARENTS)
    assert s.everything and s.allows("YA1") and s.as_condition() is None


def test_scope_as_a_condition_on_the_wide_tables_region_columns() -> None:
    assert scope_for_region("XA", "county", PARENTS).as_condition() == "county_id = 'XA'"
    assert scope_for_region("X", "city", PARENTS).as_condition() == "city_id = 'X'"
    assert scope_for_region("XA1", "township", PARENTS).as_condition() == "township_id = 'XA1'"
    assert (
        RegionScope(False, frozenset({"a'b"}), root="a'b", level="county").as_condition()
        == "county_id = 'a''b'"
    )
    assert NOTHING.empty
    with pytest.raises(PermissionError):
        NOTHING.as_condition()


def test_queryset_filter(db: Any) -> None:
    from tagcloud.web.reference.load import load_regions
    from tagcloud.web.reference.models import Region

    load_regions(REGIONS)

    s = scope_for_region("XA", "county", PARENTS)
    assert set(s.filter_queryset(Region.objects.all(), "region_id").values_list("region_id", flat=True)) == {
        "XA",
        "XA1",
        "XA2",
    }


def test_mask_msisdn() -> None:
    assert mask_msisdn("13612346297") == "136****6297"
    assert "6297" not in mask_msisdn("1361234") or mask_msisdn("1361234") == "****"


@pytest.mark.parametrize("level", ["city", "county", "township"])
def test_non_province_scope_never_includes_other_cities(level: str) -> None:
    root = {"city": "X", "county": "XA", "township": "XA1"}[level]
    assert not scope_for_region(root, level, PARENTS).allows("YA1")
