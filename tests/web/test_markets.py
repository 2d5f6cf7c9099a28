"""Regional-market pages: the competition chain end to end, hot areas through the audience
engine, the township info base, cell maintenance; every route × role × region."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.web.conftest import post
from tests.web.markets_fixtures import CAMPUS, load_cells, write_markets_warehouse

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def markets_wh(tmp_path_factory: Any) -> Any:
    return write_markets_warehouse(tmp_path_factory.mktemp("markets-wh"))


@pytest.fixture
def m(clients: dict[str, Any], markets_wh: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    """The role clients, pointed at the markets warehouse, with cells and a second county reviewer."""
    from django.contrib.auth.models import User
    from django.test import Client

    from tagcloud.web.accounts.models import Profile, Role

    settings.WAREHOUSE_DIR = markets_wh
    settings.MEDIA_ROOT = tmp_path / "uploads"
    load_cells()
    u = User.objects.create_user("deputy", password="pw-deputy-1")
    Profile.objects.create(user=u, role=Role.objects.get(code="county_marketer"), region_id="C01K01")
    c = Client(enforce_csrf_checks=True)
    c.force_login(u)
    return {**clients, "deputy": c}


def _report(client: Any, **extra: Any) -> Any:
    data = {
        "competitor": "unicom",
        "kind": "tariff",
        "region_id": "C01K01T01",
        "happened_on": "2026-12-01",
        "impact": "high",
        "title": "联通校园卡 19元",
        "text": "<script>alert('x')</script> 校门口摆摊",
        "kpis": "new_subscribers",
        **extra,
    }
    return post(client, "/markets/competition/new/", data)


def _state() -> str:
    from tagcloud.web.markets.models import CompetitionReport

    return CompetitionReport.objects.get().state


def test_competition_report_goes_verify_distribute_respond(
    m: dict[str, Any], outsider: dict[str, Any]
) -> None:
    from tagcloud.web.markets.models import CompetitionEvent, CompetitionReport, Message

    r = _report(m["channel_agent"])
    assert r.status_code == 302, r.content
    pk = CompetitionReport.objects.get().pk
    act = f"/markets/competition/{pk}/act/"
    # the township manager (no review right) cannot verify
    post(m["township_manager"], act, {"action": "verify"})
    assert _state() == "reported"
    assert Message.objects.filter(user__username="demo_county_marketer").exists()  # the office head is told
    post(m["county_marketer"], act, {"action": "verify"})
    assert _state() == "office_verified"
    post(m["county_marketer"], act, {"action": "verify", "comment": "same person"})  # four eyes
    assert _state() == "office_verified"
    post(m["deputy"], act, {"action": "verify", "comment": "推出 5G 校园套餐应对"})
    assert _state() == "county_verified"
    # a city reviewer of another city cannot act on it, and does not even see it
    assert post(outsider["city_marketer"], act, {"action": "verify", "importance": "2"}).status_code == 404
    post(
        m["city_marketer"],
        act,
        {"action": "verify", "importance": "2", "recipients": ["demo_city_marketer"], "shared": "1"},
    )
    assert _state() == "distributed"
    post(m["city_marketer"], act, {"action": "respond", "comment": "校园迎新活动, 19元 30G"})
    rep = CompetitionReport.objects.get()
    assert rep.state == "responded" and rep.importance == 2 and rep.response.startswith("校园迎新")
    steps = list(CompetitionEvent.objects.values_list("action", "to_state", "actor"))
    assert steps == [
        ("report", "reported", "demo_channel_agent"),
        ("verify", "office_verified", "demo_county_marketer"),
        ("verify", "county_verified", "deputy"),
        ("verify", "distributed", "demo_city_marketer"),
        ("respond", "responded", "demo_city_marketer"),
    ]
    # replies: county level and above; the township manager may read but not reply
    assert (
        post(m["county_marketer"], f"/markets/competition/{pk}/reply/", {"text": "同意"}).status_code == 302
    )
    parent = rep.replies.get().pk
    post(m["city_marketer"], f"/markets/competition/{pk}/reply/", {"text": "跟进", "parent": parent})
    assert post(m["township_manager"], f"/markets/competition/{pk}/reply/", {"text": "x"}).status_code == 403
    assert rep.replies.filter(parent_id=parent).count() == 1
    # shared: another city's marketer sees it in the feed (read-only, cannot act)
    assert b"19" in outsider["city_marketer"].get("/markets/competition/?shared=1").content


def test_report_text_is_escaped_and_new_until_opened(m: dict[str, Any]) -> None:
    from tagcloud.web.markets.models import CompetitionReport

    _report(m["channel_agent"])
    pk = CompetitionReport.objects.get().pk
    feed = m["county_marketer"].get("/markets/competition/").content.decode()
    assert 'class="badge new"' in feed
    page = m["county_marketer"].get(f"/markets/competition/{pk}/").content.decode()
    assert "<script>alert('x')</script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert 'class="badge new"' not in m["county_marketer"].get("/markets/competition/").content.decode()


def test_wrong_uploads_are_refused_and_nothing_is_saved(m: dict[str, Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tagcloud.web.markets.models import CompetitionAttachment, CompetitionReport

    exe = SimpleUploadedFile("leaflet.jpg", b"MZ\x90\x00not a picture", content_type="image/jpeg")
    r = _report(m["channel_agent"], files=[exe])
    assert r.status_code == 422 and "not a .jpg" in r.content.decode()
    big = SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024), content_type="application/pdf")
    assert _report(m["channel_agent"], files=[big]).status_code == 422
    assert CompetitionReport.objects.count() == 0 and CompetitionAttachment.objects.count() == 0
    png = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    assert _report(m["channel_agent"], files=[png]).status_code == 302
    a = CompetitionAttachment.objects.get()
    got = m["county_marketer"].get(f"/markets/competition/{a.report_id}/files/{a.pk}/")
    assert got.status_code == 200 and b"".join(got.streaming_content).startswith(b"\x89PNG")


def test_report_outside_the_region_is_refused(m: dict[str, Any]) -> None:
    from tagcloud.web.markets.models import CompetitionReport

    r = _report(m["township_manager"], region_id="C02K01T01")
    assert r.status_code == 422 and CompetitionReport.objects.count() == 0


def _draw(client: Any, name: str = "示范大学", **extra: Any) -> Any:
    square = [[120.09, 30.49], [120.11, 30.49], [120.11, 30.51], [120.09, 30.51]]
    return post(
        client,
        "/markets/hotareas/save/",
        {"name": name, "kind": "campus", "basis": "either", "polygon": json.dumps(square), **extra},
    )


def test_hot_area_members_and_students_through_the_engine(
    m: dict[str, Any], markets_wh: Any, outsider: dict[str, Any]
) -> None:
    from tagcloud.web.accounts.models import AuditEvent
    from tagcloud.web.audiences.models import SavedGroup
    from tagcloud.web.markets.models import HotArea

    r = _draw(m["county_marketer"], cells=json.dumps(["CAMP-0002"]))  # the polygon misses CAMP-0002: picked
    assert r.status_code == 204, r.content
    a = HotArea.objects.get()
    assert sorted(a.cells) == CAMPUS and a.region_id == "C01K01"
    page = m["county_marketer"].get(f"/markets/hotareas/{a.pk}/").content.decode()
    # lives or works on campus, in the county: students, their classmates, residents and teachers
    import duckdb

    wide = str(markets_wh / "wide" / "current" / "wide.parquet")
    expect = duckdb.sql(
        "SELECT count(*) FROM read_parquet(?) WHERE county_id = 'C01K01' AND (home_cell IN ? OR work_cell IN ?)",
        params=[wide, CAMPUS, CAMPUS],
    ).fetchall()
    assert expect == [(70,)] and "<strong>70</strong>" in page
    assert "138****" in page and "13800000000" not in page  # masked for a county marketer
    students = m["county_marketer"].get(f"/markets/hotareas/{a.pk}/?view=students").content.decode()
    assert "<strong>40</strong>" in students  # the 10 with < 50 SMS, the residents and teachers are out
    # the township manager sees the part of the area in his township only, the outsider nothing
    assert (
        "<strong>40</strong>"
        in m["township_manager"].get(f"/markets/hotareas/{a.pk}/?view=students").content.decode()
    )
    assert outsider["county_marketer"].get(f"/markets/hotareas/{a.pk}/").status_code == 404
    # export is audited; save as group makes a campaign target
    csv = b"".join(
        post(
            m["county_marketer"], f"/markets/hotareas/{a.pk}/export/", {"view": "students"}
        ).streaming_content
    )
    assert csv.count(b"\n") == 41
    ev = AuditEvent.objects.get(action="export")
    assert ev.rows == 40 and "CAMP-0001" in ev.target
    post(
        m["county_marketer"],
        f"/markets/hotareas/{a.pk}/group/",
        {"name": "campus_students", "view": "students"},
    )
    assert SavedGroup.objects.get(name="campus_students").members == 40


def test_hot_area_cells_must_be_in_the_region(m: dict[str, Any]) -> None:
    from tagcloud.web.markets.models import HotArea

    r = _draw(m["county_marketer"], cells=json.dumps(["OTH-0001"]))
    assert r.status_code == 422 and b"OTH-0001" in r.content
    assert _draw(m["township_manager"]).status_code == 403  # township managers use areas, not draw them
    assert (
        post(
            m["county_marketer"], "/markets/hotareas/save/", {"name": "x", "cells": '["\'; DROP"]'}
        ).status_code
        == 422
    )
    assert HotArea.objects.count() == 0
    assert _draw(m["analyst"]).status_code == 403  # analysts profile areas; they do not draw them


def _sheet(rows: list[str]) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = "乡镇代码,乡镇名称,人口数,农业人口数,总户数,重点支柱产业,通信市场占有率\n" + "\n".join(rows) + "\n"
    return SimpleUploadedFile("towns.csv", text.encode("utf-8"), content_type="text/csv")


def test_township_import_is_all_or_nothing_with_row_errors(m: dict[str, Any]) -> None:
    from tagcloud.web.markets.models import TownshipInfo, TownshipInfoVersion

    bad = _sheet(
        [
            "C01K01T01,甲镇,12000,8000,3000,茶叶,0.6",
            "C01K01T02,乙镇,abc,1,1,,0.5",
            "C02K01T01,外镇,1,1,1,,0.1",
        ]
    )
    r = post(m["county_marketer"], "/markets/rural/import/", {"sheet": bad})
    body = r.content.decode()
    assert (
        r.status_code == 422
        and "<td>3</td><td>population</td>" in body
        and "<td>4</td><td>township_id</td>" in body
    )
    assert TownshipInfo.objects.count() == 0 and TownshipInfoVersion.objects.count() == 0
    good = _sheet(["C01K01T01,甲镇,12000,8000,3000,茶叶,0.6", "C01K01T02,乙镇,9000,7000,2500,水稻,55%"])
    assert post(m["county_marketer"], "/markets/rural/import/", {"sheet": good}).status_code == 200
    assert TownshipInfo.objects.get(township_id="C01K01T02").market_share == pytest.approx(0.55)
    # an edit keeps history: who, when, what changed
    post(
        m["township_manager"],
        "/markets/rural/C01K01T01/",
        {
            "name": "甲镇",
            "population": "12500",
            "agricultural_population": "8000",
            "households": "3000",
            "pillar_industry": "茶叶",
            "market_share": "0.6",
        },
    )
    v = TownshipInfoVersion.objects.filter(township_id="C01K01T01").first()
    assert (
        v is not None
        and v.version == 2
        and v.changed == ["population"]
        and v.by.username == "demo_township_manager"
    )
    # a township manager cannot edit another township
    assert post(m["township_manager"], "/markets/rural/C01K01T02/", {"population": "1"}).status_code == 404
    page = m["county_marketer"].get("/markets/rural/").content.decode()
    assert "水稻" in page and "rural_type_model = &#x27;stay_home&#x27;" in page


def test_cell_changes_classified_approved_and_versioned(m: dict[str, Any]) -> None:
    import datetime as dt

    from django.utils import timezone

    from tagcloud.web.markets import service
    from tagcloud.web.markets.models import CellTask, CellVersion, Message
    from tagcloud.web.reference.models import Cell

    feed = service.reference_cells()
    feed = [c for c in feed if c["cell_id"] != "BIZ-0001"]  # retired
    feed.append({**feed[0], "cell_id": "NEW-0001", "lat": 30.51})  # a new campus cell
    feed = [{**c, "site_name": "东校区"} if c["cell_id"] == "CAMP-0003" else c for c in feed]
    assert service.detect_cell_changes(feed) == 3
    assert service.detect_cell_changes(feed) == 0  # open tasks are not opened twice
    new = CellTask.objects.get(cell_id="NEW-0001")
    assert Message.objects.filter(user__username="demo_township_manager", text__contains="NEW-0001").exists()
    r = post(
        m["township_manager"],
        f"/markets/cells/{new.pk}/classify/",
        {"klass": "campus", "area_type": "rural_township", "channel": "hall"},
    )
    assert r.status_code == 302 and CellTask.objects.get(pk=new.pk).state == "open"  # class and type disagree
    post(
        m["township_manager"],
        f"/markets/cells/{new.pk}/classify/",
        {"klass": "campus", "area_type": "university", "channel": "hall"},
    )
    assert (
        post(m["county_marketer"], f"/markets/cells/{new.pk}/review/", {"decision": "approve"}).status_code
        == 403
    )
    post(m["city_marketer"], f"/markets/cells/{new.pk}/review/", {"decision": "approve"})
    assert Cell.objects.get(cell_id="NEW-0001").area_type == "university"
    assert CellVersion.objects.get(cell_id="NEW-0001").version == 1
    # a stale unclassified change raises a reminder once a day
    CellTask.objects.filter(cell_id="BIZ-0001").update(detected_at=timezone.now() - dt.timedelta(days=10))
    sent = service.remind_stale_cells()
    assert sent >= 1 and service.remind_stale_cells() == 0


ROUTES = {
    "/markets/competition/": {
        "province_admin",
        "city_marketer",
        "county_marketer",
        "township_manager",
        "channel_agent",
    },
    "/markets/competition/new/": {
        "province_admin",
        "city_marketer",
        "county_marketer",
        "township_manager",
        "channel_agent",
    },
    "/markets/hotareas/": {
        "province_admin",
        "city_marketer",
        "county_marketer",
        "township_manager",
        "analyst",
        "knowledge_editor",
    },
    "/markets/rural/": {
        "province_admin",
        "city_marketer",
        "county_marketer",
        "township_manager",
        "analyst",
        "knowledge_editor",
    },
    "/markets/special/": {
        "province_admin",
        "city_marketer",
        "county_marketer",
        "township_manager",
        "analyst",
        "knowledge_editor",
    },
    "/markets/cells/": {"province_admin", "city_marketer", "county_marketer", "township_manager", "approver"},
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_route_by_role(m: dict[str, Any], route: str) -> None:
    from tests.web.conftest import ROLE_CODES

    for role in ROLE_CODES:
        got = m[role].get(route).status_code
        assert got == (200 if role in ROUTES[route] else 403), f"{route} as {role}: {got}"


def test_object_routes_by_region(m: dict[str, Any], outsider: dict[str, Any]) -> None:
    """Each object page: the owner's region sees it, the same role in another city gets 404."""
    from tagcloud.web.markets.models import CompetitionReport, HotArea

    _report(m["township_manager"])
    _draw(m["county_marketer"])
    pk, area = CompetitionReport.objects.get().pk, HotArea.objects.get().pk
    for role in ("city_marketer", "county_marketer", "township_manager"):
        assert m[role].get(f"/markets/competition/{pk}/").status_code == 200
        assert outsider[role].get(f"/markets/competition/{pk}/").status_code == 404
        assert m[role].get(f"/markets/hotareas/{area}/").status_code == 200
        assert outsider[role].get(f"/markets/hotareas/{area}/").status_code == 404
        assert outsider[role].get("/markets/rural/C01K01T01/").status_code == 404
    assert m["province_admin"].get(f"/markets/competition/{pk}/").status_code == 200
    assert m["approver"].get(f"/markets/competition/{pk}/").status_code == 403


def test_special_markets_count_in_scope(m: dict[str, Any]) -> None:
    c = m["county_marketer"]
    page = c.get("/markets/special/").content.decode()
    assert "<td>25</td>" in page  # migrant workers and family heads of the county
    assert "<td>40</td>" in page  # students: 50+ SMS, not teachers (the C02 students are another city's)
    fam = c.get("/markets/special/?view=family_heads").content.decode()
    at = fam.index('id="circles"')
    circles = fam[at : fam.index("</table>", at)]
    assert circles.count("<tr><td>138****") == 3 and "139****0000" in circles  # circles and members, masked
    acq = c.get("/markets/special/?view=migrant_others").content.decode()
    assert "189****0001" in acq and "189****0002" in acq and "189****0003" not in acq  # C02's is out of scope


def test_english_pages(m: dict[str, Any]) -> None:
    from tagcloud.web.reference.models import Region
    from tests.web.test_i18n import chinese_shown

    _report(m["township_manager"], text="plain", title="Unicom")
    _draw(m["county_marketer"], name="Campus")
    c = m["county_marketer"]
    post(c, "/i18n/setlang/", {"language": "en", "next": "/"})
    data = set(Region.objects.values_list("name", flat=True)) | {"示范大学", "花园小区"}
    for route in ("/markets/", "/markets/competition/", "/markets/competition/new/", "/markets/hotareas/",
                  "/markets/rural/", "/markets/cells/", "/markets/special/"):  # fmt: skip
        shown = chinese_shown(c.get(route).content.decode(), data)
        assert not shown, f"{route}: Chinese on the English page: {shown[:5]}"


def test_townships_and_cells_from_the_warehouse_feed(m: dict[str, Any], tmp_path: Any) -> None:
    """The warehouse's townships table seeds the info base (all rows or none); its cells table is
    the network feed the maintenance compares with the reference cells."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagcloud.regions.cells import feed_cells
    from tagcloud.web.markets import service
    from tagcloud.web.markets.models import CellTask, TownshipInfo

    wh = tmp_path / "wh"
    for name, table in {
        "townships": pa.table({"township_id": ["C01K01T01", "C01K01T02"], "name": ["甲", "乙"],
                               "population": pa.array([5000, 7000], pa.int32()), "is_administrative": [True, False],
                               "market_share": [0.61, 0.58]}),
        "cells": pa.table({"cell_id": ["CAMP-0001", "NEW-0002"], "lat": [30.5, 30.6], "lon": [120.1, 120.2],
                           "rat": ["5G", "5G"], "township_id": ["C01K01T01", "C01K01T01"],
                           "area_type": ["university", "urban_residential"], "site_id": [None, None],
                           "site_name": ["示范大学", None]}),
    }.items():  # fmt: skip
        (wh / "tables" / name).mkdir(parents=True)
        pq.write_table(table, wh / "tables" / name / "part-0.parquet")
    changed, errors = service.load_townships_from_warehouse(wh)
    assert errors == [] and changed == 2
    assert TownshipInfo.objects.get(township_id="C01K01T01").population == 5000
    assert service.load_townships_from_warehouse(wh) == (0, [])  # the same figures: no new versions
    feed = feed_cells(wh)
    assert [c["cell_id"] for c in feed] == ["CAMP-0001", "NEW-0002"]
    service.detect_cell_changes(feed)
    kinds = dict(CellTask.objects.values_list("cell_id", "kind"))
    assert kinds["NEW-0002"] == "new" and kinds["CAMP-0002"] == "retired" and "CAMP-0001" not in kinds


def test_linked_kpis_show_the_course_since_the_report(
    m: dict[str, Any], markets_wh: Any, settings: Any, tmp_path: Any
) -> None:
    """The response's effect on the linked KPIs, read from the alerts module's KPI store."""
    kpi = pytest.importorskip(
        "tagcloud.regions.kpi", reason="the KPI store (alerts branch) is not merged here"
    )
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagcloud.data.warehouse import Warehouse
    from tagcloud.web.markets.models import CompetitionReport

    wh = tmp_path / "kpi-wh"
    store = kpi.default_store(Warehouse(wh))
    today = dt.date.today()
    for i, value in enumerate((70.0, 63.3, 66.0, 71.5)):
        day = today - dt.timedelta(days=3 - i)
        d = store.day_dir("kpi_daily", day)
        d.mkdir(parents=True)
        pq.write_table(
            pa.table({"kpi": ["new_subscribers"] * 2, "level": ["township"] * 2, "region_id": ["C01K01T01", "C01K01T02"],
                      "channel": ["*"] * 2, "numerator": [value, 1.0], "denominator": [None, None], "value": [value, 1.0]}),
            d / "kpi.parquet",
        )  # fmt: skip
    settings.WAREHOUSE_DIR = wh
    _report(m["township_manager"], kpis="new_subscribers, no_such_kpi")
    page = (
        m["county_marketer"]
        .get(f"/markets/competition/{CompetitionReport.objects.get().pk}/")
        .content.decode()
    )
    assert '"values": [70.0, 63.3, 66.0, 71.5]' in page  # the township's course, not the other's
    assert "unknown KPI" in page and "no_such_kpi" in page


# Actions × roles: who may post to each action route at all (the permission check, before region
# and state); anyone else gets 403. Object routes use objects in the C01 chain.
ACTIONS = {
    "hotarea_save": {"province_admin", "city_marketer", "county_marketer"},
    "hotarea_group": {
        "province_admin",
        "city_marketer",
        "county_marketer",
        "township_manager",
        "analyst",
        "knowledge_editor",
    },
    "hotarea_export": {"province_admin", "city_marketer", "county_marketer"},
    "rural_import": {"province_admin", "city_marketer", "county_marketer", "township_manager"},
    "cells_detect": {"province_admin", "city_marketer", "county_marketer", "township_manager"},
    "cells_classify": {"province_admin", "city_marketer", "county_marketer", "township_manager"},
    "cells_review": {"province_admin", "city_marketer", "approver"},
    "competition_reply": {"province_admin", "city_marketer", "county_marketer"},
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_by_role(m: dict[str, Any], action: str) -> None:
    from tagcloud.web.markets.models import CellTask, CompetitionReport, HotArea
    from tests.web.conftest import ROLE_CODES

    area = HotArea.objects.create(name="a", cells=CAMPUS, region_id="C01K01")
    _report(m["channel_agent"])
    report = CompetitionReport.objects.get()
    task = CellTask.objects.create(
        cell_id="CAMP-0001", kind="changed", township_id="C01K01T01", state="classified"
    )
    url = {
        "hotarea_save": "/markets/hotareas/save/",
        "hotarea_group": f"/markets/hotareas/{area.pk}/group/",
        "hotarea_export": f"/markets/hotareas/{area.pk}/export/",
        "rural_import": "/markets/rural/import/",
        "cells_detect": "/markets/cells/detect/",
        "cells_classify": f"/markets/cells/{task.pk}/classify/",
        "cells_review": f"/markets/cells/{task.pk}/review/",
        "competition_reply": f"/markets/competition/{report.pk}/reply/",
    }[action]
    for role in ROLE_CODES:
        got = post(
            m[role], url, {"name": f"g_{role}", "text": "ok", "decision": "return", "comment": "c"}
        ).status_code
        assert (got != 403) == (role in ACTIONS[action]), f"{action} as {role}: {got}"
