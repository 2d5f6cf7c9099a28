"""A small warehouse for the regional-market pages: subscribers whose home and work cells, student
flags and SMS counts are known, so a hot area's members can be counted by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# cell id, lat, lon, township, area type, site name
CELLS = [
    ("CAMP-0001", 30.500, 120.100, "C01K01T01", "university", "示范大学"),
    ("CAMP-0002", 30.502, 120.104, "C01K01T01", "university", "示范大学"),
    ("CAMP-0003", 30.498, 120.098, "C01K01T01", "university", "示范大学"),
    ("RES-0001", 30.530, 120.150, "C01K01T01", "urban_residential", "花园小区"),
    ("BIZ-0001", 30.560, 120.200, "C01K01T01", "business_district", ""),
    ("RUR-0001", 30.700, 120.400, "C01K01T02", "rural_township", ""),
    ("OTH-0001", 31.200, 121.000, "C02K01T01", "urban_residential", ""),
]
CAMPUS = ["CAMP-0001", "CAMP-0002", "CAMP-0003"]


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(n: int, town: str, **kw: Any) -> None:
        for _ in range(n):
            i = len(rows)
            rows.append(
                {
                    "msisdn": str(13800000000 + i * 7),
                    "city_id": town[:3],
                    "county_id": town[:6],
                    "township_id": town,
                    "brand": ("gotone", "mzone", "easyown")[i % 3],
                    "age_band": ("18-24", "25-34", "45-54")[i % 3],
                    "home_cell": None,
                    "work_cell": None,
                    "campus_student_model": False,
                    "sms_sent": 0,
                    "rural_type_model": None,
                    "migrant_worker_model": False,
                    "family_head_model": False,
                    "family_plan_prospect_model": False,
                    "campus_teacher": False,
                    **kw,
                }
            )

    add(40, "C01K01T01", home_cell="CAMP-0001", work_cell="CAMP-0002", campus_student_model=True, sms_sent=80)
    add(10, "C01K01T01", home_cell="CAMP-0001", work_cell="CAMP-0001", campus_student_model=True, sms_sent=20)
    add(10, "C01K01T01", home_cell="CAMP-0003", work_cell="BIZ-0001", sms_sent=60)  # residents nearby
    # teachers: on campus in class time among students, but the teachers' tag leaves them out
    add(
        10,
        "C01K01T01",
        home_cell="RES-0001",
        work_cell="CAMP-0001",
        sms_sent=100,
        campus_student_model=True,
        campus_teacher=True,
    )
    add(
        25,
        "C01K01T02",
        home_cell="RUR-0001",
        work_cell="RUR-0001",
        rural_type_model="stay_home",
        family_head_model=True,
    )
    add(
        25,
        "C01K01T02",
        home_cell="RUR-0001",
        work_cell="BIZ-0001",
        rural_type_model="county_worker",
        migrant_worker_model=True,
    )
    add(20, "C02K01T01", home_cell="OTH-0001", work_cell="CAMP-0001", campus_student_model=True, sms_sent=80)
    return rows


COLUMNS = [
    {
        "name": "brand",
        "kind": "enum",
        "label_zh": "品牌",
        "label_en": "brand",
        "category": "basic",
        "values": ["gotone", "mzone", "easyown"],
    },
    {
        "name": "age_band",
        "kind": "enum",
        "label_zh": "年龄段",
        "label_en": "age band",
        "category": "basic",
        "values": None,
    },
    {
        "name": "home_cell",
        "kind": "enum",
        "label_zh": "居住地小区",
        "label_en": "home cell",
        "category": "location",
        "values": None,
    },
    {
        "name": "work_cell",
        "kind": "enum",
        "label_zh": "工作地小区",
        "label_en": "work cell",
        "category": "location",
        "values": None,
    },
    {
        "name": "campus_student_model",
        "kind": "flag",
        "label_zh": "学生",
        "label_en": "student",
        "category": "campus",
        "values": None,
    },
    {
        "name": "sms_sent",
        "kind": "number",
        "label_zh": "发送短信条数",
        "label_en": "SMS sent",
        "category": "sms",
        "values": None,
    },
    {
        "name": "rural_type_model",
        "kind": "enum",
        "label_zh": "农村客户类型",
        "label_en": "rural type",
        "category": "rural",
        "values": ["stay_home", "county_worker", "out_county_worker"],
    },
    {
        "name": "migrant_worker_model",
        "kind": "flag",
        "label_zh": "本网务工",
        "label_en": "migrant",
        "category": "migrant",
        "values": None,
    },
    {
        "name": "family_head_model",
        "kind": "flag",
        "label_zh": "家庭户主",
        "label_en": "family head",
        "category": "family",
        "values": None,
    },
    {
        "name": "family_plan_prospect_model",
        "kind": "flag",
        "label_zh": "家庭V网推荐",
        "label_en": "family prospect",
        "category": "family",
        "values": None,
    },
]


COLUMNS.append(
    {
        "name": "campus_teacher",
        "kind": "flag",
        "label_zh": "校园教职工",
        "label_en": "campus staff",
        "category": "campus",
        "values": None,
    }
)


def write_markets_warehouse(wh: Path) -> Path:
    """Write the wide table and index it with the audience engine."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagcloud.audience.indexer import build_index

    out = wh / "wide" / "current"
    out.mkdir(parents=True, exist_ok=True)
    rows = _rows()
    types = {"flag": pa.bool_(), "enum": pa.string(), "number": pa.int64()}
    schema = pa.schema(
        [pa.field(c, pa.string()) for c in ("msisdn", "city_id", "county_id", "township_id")]
        + [pa.field(c["name"], types[c["kind"]]) for c in COLUMNS]
    )
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out / "wide.parquet")
    meta = {
        "build_id": "markets-1",
        "built_at": "2026-12-01T00:00:00+00:00",
        "period": "2026-11",
        "columns": COLUMNS,
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    build_index(wh, quiet=True)
    # model outputs read beside the index: families (by number) and off-net migrant workers
    (wh / "models" / "detail").mkdir(parents=True, exist_ok=True)
    heads = [r["msisdn"] for r in rows if r["family_head_model"]][:3]
    fam = []
    for k, head in enumerate(heads):
        fam += [(head, head, 2, True, True), (f"1390000000{k}", head, 2, False, True)]
    pq.write_table(
        pa.table(dict(zip(("msisdn", "family_group", "family_size", "is_family_head", "recommend_family_plan"),
                          map(list, zip(*fam, strict=True)), strict=True))),
        wh / "models" / "families.parquet",
    )  # fmt: skip
    pq.write_table(
        pa.table({"msisdn": ["18900000001", "18900000002", "18900000003"], "operator": ["CTCC", "CUCC", "CTCC"],
                  "home_township": ["C01K01T02", "C01K01T02", "C02K01T01"], "calls": [30, 18, 40],
                  "weeks": [4, 3, 4], "off_peak_share": [0.8, 0.7, 0.9], "is_competitor_migrant": [True, True, True]}),
        wh / "models" / "detail" / "competitor_migrants.parquet",
    )  # fmt: skip
    return wh


def load_cells() -> None:
    from tagcloud.web.reference.models import Cell

    for cid, lat, lon, town, area, site in CELLS:
        Cell.objects.create(
            cell_id=cid, lat=lat, lon=lon, rat="5G", township_id=town, area_type=area, site_name=site
        )
