"""The customer records carry only what an operator's systems hold; the truth keeps the rest (issue 19 §2)."""

from __future__ import annotations

from tagcloud.sim.history import REGISTERED_ELSEWHERE


def test_family_head_only_on_a_family_plan(con) -> None:  # type: ignore[no-untyped-def]
    planted, on_record, on_record_without_plan = con.execute(
        """SELECT count(*) FILTER (WHERE t.is_family_head),
                  count(*) FILTER (WHERE s.is_family_head),
                  count(*) FILTER (WHERE s.is_family_head AND s.family_vnet_id IS NULL)
           FROM subscribers s JOIN truth t USING (msisdn)"""
    ).fetchone()
    assert on_record_without_plan == 0
    assert 0 < on_record < planted  # some planted families have no family plan: no head on record


def test_registered_region_differs_from_the_true_home_for_a_share(con) -> None:  # type: ignore[no-untyped-def]
    n, differs, same_county = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE s.home_region_id <> t.home_township),
                  count(*) FILTER (WHERE s.home_region_id <> t.home_township AND reg.parent_id = home.parent_id)
           FROM subscribers s JOIN truth t USING (msisdn)
           JOIN regions reg ON reg.region_id = s.home_region_id
           JOIN regions home ON home.region_id = t.home_township"""
    ).fetchone()
    share = differs / n
    # 15% drawn, less those whose work township is their home township and whose county has one township
    assert REGISTERED_ELSEWHERE * 0.6 < share <= REGISTERED_ELSEWHERE + 0.03
    assert same_county > 0
