from __future__ import annotations

import datetime as dt

import pytest

from tagcloud.campaigns.workflow import Actor, WorkflowError
from tagcloud.realtime.rulestore import RuleDesign, RuleSequence, RuleState, RuleStore
from tagcloud.tags.condition import ConditionError, names_from_kinds

NAMES = names_from_kinds({"arpu_3m": "number", "has_roaming_pack": "flag", "city_id": "text"})
OWNER = Actor("li", "city", "4401")
CITY = Actor("wang", "city", "4401", can_approve=True)
PROVINCE = Actor("zhao", "province", "44", can_approve=True)


def design(**kw: object) -> RuleDesign:
    base: dict[str, object] = {
        "rule_id": "roam_gd",
        "name": "Roaming into Guangdong",
        "event_type": "roam_in",
        "condition": "event.other_province AND arpu_3m >= 100 AND NOT has_roaming_pack",
        "offer_id": "ROAM_PACK_30",
        "script": "Welcome to {province}! Roaming pack 30 yuan: reply Y",
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2026, 12, 31),
        "region_id": "4401",
        "region_level": "city",
        "priority": 5,
    }
    base.update(kw)
    return RuleDesign.model_validate(base)


def test_lifecycle_through_the_approval_chain(db_url: str) -> None:
    with RuleStore(db_url, names=NAMES) as store:
        rev0 = store.revision()
        r = store.create(design(), OWNER)
        assert r["state"] == RuleState.DRAFT and r["version"] == 1 and r["owner"] == "li"
        assert store.revision() > rev0
        with pytest.raises(WorkflowError, match="only an approved or paused"):
            store.activate("roam_gd", OWNER)
        store.submit("roam_gd", OWNER)
        assert [x["rule_id"] for x in store.inbox(CITY)] == ["roam_gd"]
        assert store.inbox(PROVINCE) == []
        with pytest.raises(WorkflowError, match="locked"):
            store.edit(design(name="x"), OWNER)
        with pytest.raises(WorkflowError, match="waits for a city approver"):
            store.approve("roam_gd", PROVINCE)
        r = store.approve("roam_gd", CITY)
        assert r["state"] == RuleState.SUBMITTED and r["waiting_for"] == "province"
        r = store.return_("roam_gd", PROVINCE, "ARPU threshold too low")
        assert r["state"] == RuleState.RETURNED
        store.edit(design(condition="event.other_province AND arpu_3m >= 120"), OWNER, "raised")
        store.submit("roam_gd", OWNER)
        store.approve("roam_gd", CITY)
        r = store.approve("roam_gd", PROVINCE)
        assert r["state"] == RuleState.APPROVED and r["approved_version"] == 2
        assert store.active_rules() == []
        rev = store.revision()
        store.activate("roam_gd", OWNER)
        assert store.revision() != rev
        active = store.active_rules(dt.datetime(2026, 6, 1))
        assert [(a.rule_id, a.version) for a in active] == [("roam_gd", 2)]
        assert "120" in active[0].design.condition
        assert store.active_rules(dt.datetime(2027, 1, 2)) == []  # outside its validity
        store.pause("roam_gd", OWNER)
        assert store.active_rules() == []
        store.activate("roam_gd", OWNER)  # a paused rule comes back without a new approval
        assert len(store.active_rules()) == 1
        store.pause("roam_gd", OWNER)
        store.edit(design(priority=9), OWNER)  # a new version must be approved before it runs
        assert store.get("roam_gd")["state"] == RuleState.DRAFT
        with pytest.raises(WorkflowError):
            store.activate("roam_gd", OWNER)
        assert [v["version"] for v in store.versions("roam_gd")] == [1, 2, 3]
        assert store.design("roam_gd", 1).condition.endswith("NOT has_roaming_pack")
        actions = [h["action"] for h in store.history("roam_gd")]
        assert actions[:4] == ["created", "submitted", "approved", "returned"]
        store.retire("roam_gd", OWNER, "season over")
        assert store.get("roam_gd")["state"] == RuleState.RETIRED
        with pytest.raises(WorkflowError, match="already retired"):
            store.retire("roam_gd", OWNER, "again")


def test_conditions_are_checked_with_the_closest_name(db_url: str) -> None:
    with RuleStore(db_url, names=NAMES) as store:
        with pytest.raises(ConditionError, match="did you mean 'arpu_3m'"):
            store.create(design(condition="arpu3m >= 100"), OWNER)
        with pytest.raises(ConditionError, match=r"unknown event field 'event\.provnce'.*'event\.province'"):
            store.create(design(condition="event.provnce = 'guangdong'"), OWNER)
        bad_seq = RuleSequence(
            cancel_event="order", cancel_condition="event.product = 'x'", within_minutes=120
        )
        with pytest.raises(ConditionError, match=r"event\.product"):
            store.create(design(rule_id="q80", event_type="quota_80", condition="", sequence=bad_seq), OWNER)
        assert store.rules() == []


def test_region_and_owner_are_enforced(db_url: str) -> None:
    with RuleStore(db_url) as store:
        with pytest.raises(WorkflowError, match="may not write a rule for region"):
            store.create(design(region_id="4403"), OWNER)
        store.create(design(), OWNER)
        with pytest.raises(WorkflowError, match="not the owner"):
            store.submit("roam_gd", Actor("someone", "city", "4401"))
        with pytest.raises(WorkflowError, match="exists already"):
            store.create(design(), OWNER)
        assert [r["rule_id"] for r in store.rules(region_id="44")] == ["roam_gd"]
        assert store.rules(region_id="4403") == []


def test_design_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="control share"):
        design(control_share=1.5)
    with pytest.raises(ValueError, match="before valid_from"):
        design(valid_until=dt.date(2025, 1, 1))
    with pytest.raises(ValueError, match="event_type"):
        design(event_type="teleport")
    d = design(window_start=dt.time(21), window_end=dt.time(7))
    assert d.in_window(dt.time(23)) and d.in_window(dt.time(6)) and not d.in_window(dt.time(12))
