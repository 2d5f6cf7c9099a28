"""The catalogue: the package's definitions, refusals of invalid ones, lineage, export round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tagcloud.tags.catalogue import (
    ASPECTS,
    Catalogue,
    CatalogueError,
    export_catalogue,
    load_catalogue,
)

SEED_EXAMPLES = [
    "golf_weekender",  # weekends at golf courses
    "traffic_radio_caller",
    "car_owner",  # traffic-radio callers → car owners
    "stock_broker_caller",
    "hk_macau_roamer",
    "ringtone_changer",
    "campus_student",
    "family_member",
    "rural_stay_home",
    "rural_county_worker",
    "rural_outside_worker",
    "migrant_worker",
    "dual_sim_suspect",
    "old_plan_new_handset",  # 4G/5G handset on an old plan
    "g5_handset_no_5g_plan",
    "heavy_video_user",
]


def test_package_catalogue_meets_the_issue(catalogue: Catalogue) -> None:
    assert len(catalogue.attributes) >= 300
    assert len(catalogue.tags) >= 450
    used = {t.category for t in catalogue.tags.values()}
    assert len(used) >= 35
    assert {catalogue.categories[c].aspect for c in used} == set(ASPECTS)
    for tid in SEED_EXAMPLES:
        assert tid in catalogue.tags, tid
    for t in catalogue.tags.values():
        assert t.definition_zh.strip() and t.definition_en.strip(), t.id
        assert t.name_zh and t.name_en
    assert catalogue.scenarios and catalogue.groups
    # every name is ASCII snake_case: it becomes a column of the wide table
    for name in [*catalogue.attributes, *catalogue.tags]:
        assert name.isascii() and name == name.lower()


def test_dependency_order_puts_inputs_first(catalogue: Catalogue) -> None:
    pos = {n: i for i, n in enumerate(catalogue.order)}
    for name in catalogue.order:
        for dep in catalogue.depends.get(name, ()):
            if dep in pos:
                assert pos[dep] < pos[name], (dep, name)


def test_lineage_reaches_warehouse_columns(catalogue: Catalogue) -> None:
    lin = catalogue.lineage("car_owner")
    assert "calls_to_traffic_radio" in lin["inputs"]
    assert "calls_in_highway" in lin["upstream"]  # through frequents_highway
    assert "voice_cdr.peer_number" in lin["columns"]  # the join to the number list
    assert "scenario:car_owner_services" in lin["used_by"]
    assert "voice_cdr.peer_operator" in catalogue.lineage("offnet_call_share")["columns"]
    assert "offnet_heavy" in catalogue.downstream("calls_cu")
    with pytest.raises(KeyError, match="did you mean 'car_owner'"):
        catalogue.lineage("car_ownr")


def test_families_expand_with_substitution(catalogue: Catalogue) -> None:
    a = catalogue.attributes["calls_ct"]
    assert a.expr == "sum(CASE WHEN peer_operator = 'CT' THEN 1 ELSE 0 END)"
    assert a.name_en == "Calls with China Telecom numbers"
    t = catalogue.tags["roamer_hk"]
    assert t.rule == "roam_days_hk >= 1" and "香港" in t.definition_zh


def test_export_loads_back_unchanged(catalogue: Catalogue, tmp_path: Path) -> None:
    export_catalogue(catalogue, tmp_path)
    again = load_catalogue(tmp_path)

    def strip(d: dict) -> dict:
        return {k: {f: v for f, v in vars(x).items() if f != "file"} for k, x in d.items()}

    for section in ("categories", "sources", "attributes", "tags", "scenarios", "groups"):
        assert strip(getattr(again, section)) == strip(getattr(catalogue, section)), section
    assert again.lists == catalogue.lists
    assert again.order == catalogue.order


# -- invalid definitions are refused with clear messages -----------------------------------------------

BASE = {
    "categories": [{"id": "value", "aspect": "basic", "name_zh": "价值", "name_en": "Value"}],
    "sources": [
        {"id": "bills", "sql": "SELECT msisdn, CAST(arpu AS DOUBLE) AS arpu, dou_mb FROM billing_monthly"},
        {"id": "subs", "grain": "subscriber", "sql": "SELECT msisdn, brand FROM subscribers"},
    ],
    "attributes": [
        {"id": "arpu_avg", "name_zh": "ARPU", "name_en": "ARPU", "category": "value", "source": "bills",
         "expr": "avg(arpu)", "kind": "number"},
        {"id": "brand", "name_zh": "品牌", "name_en": "Brand", "category": "value", "source": "subs",
         "expr": "brand", "kind": "enum", "codes": "brand"},
    ],
    "tags": [
        {"id": "rich", "name_zh": "高", "name_en": "Rich", "category": "value", "rule": "arpu_avg >= 100",
         "definition_zh": "高", "definition_en": "rich"},
    ],
}  # fmt: skip


def _load(tmp_path: Path, change) -> Catalogue:
    import copy

    doc = copy.deepcopy(BASE)
    change(doc)
    (tmp_path / "defs.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_catalogue(tmp_path)


def test_base_definitions_load(tmp_path: Path) -> None:
    cat = _load(tmp_path, lambda d: None)
    assert cat.lineage("rich")["columns"] == ["billing_monthly.arpu"]


def _attr(d: dict, **kw: object) -> None:
    d["attributes"].append(
        {"id": "xx", "name_zh": "x", "name_en": "x", "category": "value", "kind": "number", **kw}
    )


def _tag(d: dict, **kw: object) -> None:
    d["tags"].append({"id": "t2", "name_zh": "t", "name_en": "t", "category": "value",
                      "definition_zh": "t", "definition_en": "t", **kw})  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["sources"].append({"id": "bad", "sql": "SELEC msisdn FROM sms"}),
            "source 'bad': bad SQL",
        ),
        (
            lambda d: d["sources"].append({"id": "bad", "sql": "SELECT msisdn FROM smss"}),
            "unknown table 'smss' (did you mean 'sms'?)",
        ),
        (
            lambda d: d["sources"].append({"id": "bad", "sql": "SELECT msisdn, durration FROM voice_cdr"}),
            "durration",
        ),
        (
            lambda d: d["sources"].append({"id": "bad", "sql": "SELECT 1; DROP TABLE sms"}),
            "exactly one SELECT",
        ),
        (lambda d: d["sources"].append({"id": "bad", "sql": "SELECT peer_number FROM sms"}), "msisdn"),
        (
            lambda d: _attr(d, source="bills", expr="avg(arpuu)"),
            "source 'bills' has no column 'arpuu' (did you mean 'arpu'?)",
        ),
        (
            lambda d: _attr(d, source="bils", expr="avg(arpu)"),
            "unknown source 'bils' (did you mean 'bills'?)",
        ),
        (lambda d: _attr(d, source="bills", expr="arpu"), "aggregate it"),
        (lambda d: _attr(d, source="subs", expr="count(brand)"), "do not aggregate"),
        (lambda d: _attr(d, source="bills", expr="avg(arpu"), "bad SQL expression"),
        (
            lambda d: _attr(d, source="derived", expr="arpu_avgg * 2"),
            "unknown attribute 'arpu_avgg' (did you mean 'arpu_avg'?)",
        ),
        (lambda d: _attr(d, source="bills", expr="avg(arpu)", kind="money"), "kind must be one of"),
        (
            lambda d: _attr(d, source="bills", expr="avg(arpu)", categroy="value"),
            "unknown field 'categroy' (did you mean 'category'?)",
        ),
        (
            lambda d: _attr(d, id="arpu_avg", source="bills", expr="avg(arpu)"),
            "'arpu_avg' is already defined",
        ),
        (lambda d: _attr(d, id="Bad-Name", source="bills", expr="avg(arpu)"), "ASCII snake_case"),
        (
            lambda d: _tag(d, rule="arpu_avgg > 1"),
            "tag 't2': unknown name 'arpu_avgg' (did you mean 'arpu_avg'?)",
        ),
        (lambda d: _tag(d, rule="arpu_avg > 'high'"), "is a text value but arpu_avg is a number"),
        (lambda d: _tag(d, rule="brand = 'platinum'"), "'platinum' is not a value of brand"),
        (lambda d: _tag(d, rule="arpu_avg > 1 OR (SELECT 1) = 1"), "subqueries are not allowed"),
        (lambda d: _tag(d, rule="rich AND t2"), "cycle between definitions: t2 → t2"),
        (
            lambda d: (_tag(d, rule="t3"), d["tags"].append({**d["tags"][-1], "id": "t3", "rule": "t2"})),
            "cycle between definitions",
        ),
        (
            lambda d: _tag(d, category="valeu", rule="rich"),
            "unknown category 'valeu' (did you mean 'value'?)",
        ),
        (lambda d: _tag(d, kind="enum", values=[{"value": "a"}]), "each with a 'rule'"),
        (
            lambda d: _tag(d, kind="bucket", of="brand", values=[{"value": "a", "below": 1}, {"value": "b"}]),
            "'of' must name a number",
        ),
        (
            lambda d: _tag(
                d,
                kind="bucket",
                of="arpu_avg",
                values=[{"value": "a", "below": 5}, {"value": "b", "below": 2}, {"value": "c"}],
            ),
            "bounds must increase",
        ),
        (lambda d: _tag(d, status="published", rule="rich"), "'published' is not a valid Status"),
        (lambda d: d["tags"][0].pop("definition_zh"), "missing 'definition_zh'"),
        (
            lambda d: d.update(
                scenarios=[
                    {
                        "id": "sc",
                        "name_zh": "s",
                        "name_en": "s",
                        "system": "x",
                        "task": "t",
                        "condition": "arpu_avg * 2 > 1",
                    }
                ]
            ),
            "scenario 'sc': arithmetic is not allowed",
        ),
        (
            lambda d: d.update(groups=[{"id": "gg", "name_zh": "g", "condition": "in_group('gg')"}]),
            "refers to itself",
        ),
        (
            lambda d: d.update(attributes=[{"for_each": {"m": [1, 2]}, "template": {"id": "a_{n}"}}]),
            "unknown variable",
        ),
        (lambda d: d.update(tagz=[]), "unknown section 'tagz'"),
    ],
)
def test_invalid_definitions_are_refused(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(CatalogueError) as info:
        _load(tmp_path, change)
    assert message in str(info.value)
    assert "defs.yaml" in str(info.value)
