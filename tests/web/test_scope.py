from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagcloud.web.accounts.masking import mask_column, mask_msisdn
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
    assert s.restrict("arpu >= 80") == "arpu >= 80"


def test_scope_is_anded_around_the_users_condition() -> None:
    s = RegionScope(False, frozenset({"XA1", "XA2"}))
    # The user's text stays one operand: an OR in it cannot escape the region restriction.
    assert s.restrict("a OR b") == "(a OR b) AND home_region_id IN ('XA1', 'XA2')"
    assert s.restrict("") == "home_region_id IN ('XA1', 'XA2')"
    assert NOTHING.as_condition() == "FALSE"


def test_queryset_filter(db: Any, regions: None) -> None:
    from tagcloud.web.reference.models import Region

    s = scope_for_region("XA", "county", PARENTS)
    assert set(s.filter_queryset(Region.objects.all(), "region_id").values_list("region_id", flat=True)) == {
        "XA",
        "XA1",
        "XA2",
    }


def test_mask_msisdn() -> None:
    assert mask_msisdn("13612346297") == "136****6297"
    assert mask_msisdn("123") == "***"


@settings(deadline=None)  # the first call imports pyarrow
@given(st.lists(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), max_size=50))
def test_mask_column_agrees_with_mask_msisdn(numbers: list[str]) -> None:
    assert mask_column(numbers).to_pylist() == [mask_msisdn(n) for n in numbers]


@pytest.mark.parametrize("level", ["city", "county", "township"])
def test_non_province_scope_never_includes_other_cities(level: str) -> None:
    root = {"city": "X", "county": "XA", "township": "XA1"}[level]
    assert not scope_for_region(root, level, PARENTS).allows("YA1")
