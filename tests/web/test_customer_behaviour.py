"""Customer 360's recent behaviour (from the warehouse's event tables) and touchpoint offers (from
the campaigns' ledger and store): shown in region, peers masked unless unmasked, zh and en."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import number_in, post

pytestmark = pytest.mark.django_db

PEER = "13900001111"


@pytest.fixture
def customer(warehouse: Any) -> str:
    """An in-region number with two days of calls and data and a plan, written into the warehouse."""
    import duckdb

    from tagcloud.data.warehouse import Warehouse

    n = number_in(warehouse, "county_id = 'C01K01' AND township_id = 'C01K01T01'")
    wh = Warehouse(Path(warehouse))
    con = duckdb.connect()

    def write(table: str, period: str | None, sql: str) -> None:
        d = wh.partition_dir(table, period)
        d.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({sql}) TO '{d / (table + '.parquet')}' (FORMAT parquet)")

    for day in ("2026-09-29", "2026-09-30"):
        write(
            "voice_cdr",
            day,
            f"SELECT * FROM (VALUES ('{n}', '{PEER}', 'CT', 'MO', 180)) "
            "AS t(msisdn, peer_number, peer_operator, direction, duration_s)",
        )
        write(
            "data_xdr",
            day,
            f"SELECT * FROM (VALUES ('{n}', TIMESTAMP '{day} 10:00', 0, 3145728)) "
            "AS t(msisdn, start_time, bytes_up, bytes_down)",
        )
    write(
        "orders",
        "2026-09",
        f"SELECT * FROM (VALUES ('{n}', 'PL_5G128', 'subscribe', TIMESTAMP '2026-09-01 00:00')) "
        "AS t(msisdn, product_id, action, order_time)",
    )
    write(
        "products",
        None,
        "SELECT * FROM (VALUES ('PL_5G128', '5G智享套餐128元', '5G Zhixiang 128', 'plan')) "
        "AS t(product_id, name, name_en, kind)",
    )
    return n


def test_behaviour_on_the_page(clients: dict[str, Any], customer: str) -> None:
    html = post(clients["county_marketer"], "/customer/", {"msisdn": customer}).content.decode()
    assert "近期行为" in html and "2026-09-01 – 2026-09-30" in html
    assert "2 <small>次 · 6.0 分钟" in html  # two 3-minute calls
    assert "139****1111" in html and PEER not in html and "中国电信" in html
    assert "5G智享套餐128元" in html and "6 <small>MB" in html
    assert "[3.0, 3.0]" in html  # the data-by-day chart's values


def test_peers_whole_only_for_an_unmask(clients: dict[str, Any], customer: str) -> None:
    html = post(clients["province_admin"], "/customer/", {"msisdn": customer, "unmask": "1"}).content.decode()
    assert PEER in html


def test_behaviour_in_english(clients: dict[str, Any], customer: str) -> None:
    c = clients["county_marketer"]
    c.cookies["django_language"] = "en"
    html = post(c, "/customer/", {"msisdn": customer}).content.decode()
    assert "China Telecom" in html and "5G Zhixiang 128" in html and "Data per day (MB)" in html


def test_out_of_region_shows_no_behaviour(clients: dict[str, Any], customer: str, warehouse: Any) -> None:
    other = number_in(warehouse, "county_id = 'C03K02'")
    r = post(clients["county_marketer"], "/customer/", {"msisdn": other})
    assert r.status_code == 404 and "近期行为" not in r.content.decode()


def test_touchpoint_offers_from_the_campaigns(
    clients: dict[str, Any], warehouse: Any, tmp_path: Path, settings: Any
) -> None:
    from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
    from tagcloud.campaigns.execute import Target, launch, plan_wave, split_target
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import Actor, CampaignStore

    n = number_in(warehouse, "county_id = 'C01K01'")
    url = f"sqlite:///{tmp_path / 'campaigns.db'}"
    c = clients["county_marketer"]
    settings.CAMPAIGN_DB = url
    assert "该渠道暂无可推荐的营销活动" not in post(c, "/customer/", {"msisdn": n}).content.decode()
    design = CampaignDesign(
        campaign_id="CMP_HALL",
        name="5G升级推荐",
        region_id="C01K01",
        region_level="county",
        target="arpu >= 50",
        sub_campaigns=[
            SubCampaign(name="all", offer_id="5G_PACK_30", condition="", scripts={"hall": "推荐5G畅享包"})
        ],
        waves=[Wave(channel="hall", after_days=0)],
        start=dt.datetime.now() - dt.timedelta(hours=1),
        control_share=0.0,
    )
    with ContactLedger(url) as led, CampaignStore(url) as store:
        store.create(design, Actor("demo_county_marketer", "county", "C01K01"))
        target = split_target(design, np.array([n], dtype=object), np.array(["all"], dtype=object))
        plan_wave(led, design, Target.load(launch(led, design, target, tmp_path)), 0)
    html = post(c, "/customer/", {"msisdn": n, "channel": "hall"}).content.decode()
    assert "5G升级推荐" in html and "5G_PACK_30" in html and "推荐5G畅享包" in html
    # The hotline has no script of its own here but sees the same pending offer (shared memory).
    assert "5G_PACK_30" in post(c, "/customer/", {"msisdn": n, "channel": "10086"}).content.decode()


def test_api_behaviour(clients: dict[str, Any], customer: str, warehouse: Any) -> None:
    body = clients["county_marketer"].get(f"/api/customers/{customer}/behaviour").json()
    assert body["calls"]["count"] == 2 and body["calls"]["top_contacts"][0]["peer"] == "139****1111"
    assert body["msisdn"] == customer[:3] + "****" + customer[-4:] and customer not in str(body)
    assert [p["product_id"] for p in body["products"]] == ["PL_5G128"]
    other = number_in(warehouse, "county_id = 'C03K02'")
    assert clients["county_marketer"].get(f"/api/customers/{other}/behaviour").status_code == 404
    assert clients["analyst"].get(f"/api/customers/{customer}/behaviour").status_code == 403
