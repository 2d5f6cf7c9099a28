"""营销快点吧 pages: write, edit (versions, diff, revert), the concurrent-edit refusal, bad
conditions refused with the closest name, escaping, scope invisibility, rating/comment/follow,
search (Chinese and English), verify → a knowledge tag the audience engine counts, the long tail
against a DuckDB reference, extraction (audited) and the campaign prefill, the customer view."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import engine, number_in, post
from .test_campaigns import campaign_settings, city_approver  # noqa: F401 — fixtures shared with the campaign tests

pytestmark = pytest.mark.django_db

PRODUCTS = [
    ("P_CAR", "车主服务", "Car owner service", "vas"),
    ("P_SEC", "秘书台", "Secretary desk", "vas"),
    ("P_STOCK", "移动证券", "Mobile stocks", "vas"),
    ("P_GOLF", "高尔夫会员", "Golf membership", "membership"),
]


@pytest.fixture
def kwh(warehouse: Path, tmp_path: Path, settings: Any, clients: dict[str, Any]) -> Path:
    """A copy of the synthetic warehouse for this test (verifying re-indexes it), products loaded."""
    from tagcloud.web.engine import forget_engine
    from tagcloud.web.reference.models import Product

    wh = tmp_path / "wh"
    shutil.copytree(warehouse, wh)
    settings.WAREHOUSE_DIR = wh
    forget_engine(wh)
    for pid, name, en, kind in PRODUCTS:
        Product.objects.create(product_id=pid, name=name, name_en=en, kind=kind)
    return wh


def point_form(**kw: Any) -> dict[str, Any]:
    data = {
        "title": "常拨交通台热线",
        "cond": "arpu >= 60 AND tag_0002",
        "knowledge": "有车一族",
        "knowledge_en": "car owner",
        "dimension": "car_owner",
        "description": "经常拨打交通台热线的客户多为车主",
        "region_id": "",
        "product_id": ["P_CAR", "P_STOCK"],
        "strategy": ["cross_sell", "upsell"],
        "reason": ["车主需要车务提醒", "白领理财"],
    }
    data.update(kw)
    return data


def create(client: Any, **kw: Any) -> int:
    r = post(client, "/knowledge/new/", point_form(**kw))
    assert r.status_code == 302, r.content.decode()[:2000]
    return int(r["Location"].rstrip("/").split("/")[-1])


def test_write_edit_versions_diff_revert(clients: dict[str, Any], kwh: Path) -> None:
    from tagcloud.web.knowledge.models import PointVersion, QuickPoint

    pk = create(clients["county_marketer"])
    p = QuickPoint.objects.get(pk=pk)
    assert p.author.username == "demo_county_marketer" and p.version == 1
    assert [x["product_id"] for x in p.products] == ["P_CAR", "P_STOCK"]
    page = clients["county_marketer"].get(f"/knowledge/{pk}/").content.decode()
    count = engine(kwh, scope="county_id = 'C01K01'").count("arpu >= 60 AND tag_0002")
    assert f'data-count="{count}"' in page and "有车一族" in page

    r = post(
        clients["city_marketer"],
        f"/knowledge/{pk}/edit/",
        point_form(base_version=1, title="常拨交通台 (改)"),
    )
    assert r.status_code == 302
    r = post(
        clients["county_marketer"],
        f"/knowledge/{pk}/edit/",
        point_form(base_version=2, cond="arpu >= 80 AND tag_0002"),
    )
    assert r.status_code == 302
    assert list(PointVersion.objects.filter(point_id=pk).values_list("version", "edited_by")) == [
        (1, "demo_county_marketer"),
        (2, "demo_city_marketer"),
        (3, "demo_county_marketer"),
    ]
    diff = clients["county_marketer"].get(f"/knowledge/{pk}/diff/?a=1&b=3").content.decode()
    assert (
        "-condition: arpu &gt;= 60 AND tag_0002" in diff and "+condition: arpu &gt;= 80 AND tag_0002" in diff
    )
    assert (
        "+title:" not in diff and "-title:" not in diff
    )  # v3 took the title back: between v1 and v3 it did not change
    diff12 = clients["county_marketer"].get(f"/knowledge/{pk}/diff/?a=1&b=2").content.decode()
    assert "-title: 常拨交通台热线" in diff12 and "+title: 常拨交通台 (改)" in diff12
    # revert to v1 is a new version 4 with v1's content; history untouched
    r = post(clients["county_marketer"], f"/knowledge/{pk}/revert/1/", {"base_version": 3})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.version == 4 and p.condition == "arpu >= 60 AND tag_0002" and p.title == "常拨交通台热线"
    assert PointVersion.objects.get(point_id=pk, version=3).condition == "arpu >= 80 AND tag_0002"


def test_second_save_on_the_same_version_is_refused_with_a_diff(clients: dict[str, Any], kwh: Path) -> None:
    from tagcloud.web.knowledge.models import QuickPoint

    pk = create(clients["county_marketer"])
    # both opened version 1; the city marketer saves first
    assert (
        post(
            clients["city_marketer"],
            f"/knowledge/{pk}/edit/",
            point_form(base_version=1, knowledge="白领车主"),
        ).status_code
        == 302
    )
    r = post(
        clients["county_marketer"],
        f"/knowledge/{pk}/edit/",
        point_form(base_version=1, knowledge="有车一族 (县)"),
    )
    html = r.content.decode()
    assert r.status_code == 409
    assert "-knowledge: 有车一族" in html and "+knowledge: 白领车主" in html  # what changed meanwhile
    assert "+knowledge: 有车一族 (县)" in html  # and what they tried
    p = QuickPoint.objects.get(pk=pk)
    assert p.version == 2 and p.knowledge == "白领车主"  # nothing overwritten


def test_bad_condition_refused_at_save_with_closest_name(clients: dict[str, Any], kwh: Path) -> None:
    from tagcloud.web.knowledge.models import QuickPoint

    r = post(clients["county_marketer"], "/knowledge/new/", point_form(cond="arpuu >= 60"))
    html = r.content.decode()
    assert r.status_code == 422 and "arpuu" in html and "<code>arpu</code>" in html
    r = post(clients["county_marketer"], "/knowledge/new/", point_form(cond="arpu >= "))
    assert r.status_code == 422
    r = post(clients["county_marketer"], "/knowledge/new/", point_form(cond="arpu > 1; DROP TABLE x"))
    assert r.status_code == 422
    r = post(
        clients["county_marketer"],
        "/knowledge/new/",
        point_form(product_id=["P_CARR"], strategy=["cross_sell"], reason=["x"]),
    )
    assert r.status_code == 422 and "P_CAR" in r.content.decode()
    r = post(clients["county_marketer"], "/knowledge/new/", point_form(strategy=["sell_more", "upsell"]))
    assert r.status_code == 422
    assert QuickPoint.objects.count() == 0


def test_html_in_text_is_escaped(clients: dict[str, Any], kwh: Path) -> None:
    evil = '<script>alert("x")</script>'
    pk = create(clients["county_marketer"], title=evil, knowledge=f"<b>{evil}</b>", description=evil)
    post(clients["county_marketer"], f"/knowledge/{pk}/comment/", {"text": evil})
    for url in (f"/knowledge/{pk}/", "/knowledge/", "/knowledge/?q=script"):
        html = clients["county_marketer"].get(url).content.decode()
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;alert" in html, url


def test_a_city_point_is_invisible_to_another_city(
    clients: dict[str, Any], outsider: dict[str, Any], kwh: Path
) -> None:
    from tagcloud.web.knowledge.models import QuickPoint

    city_pk = create(clients["city_marketer"], region_id="C01", title="甲市专属快点")
    county_pk = create(clients["county_marketer"], region_id="C01K01", title="甲一县快点")
    province_pk = create(clients["county_marketer"], title="全省快点")
    assert QuickPoint.objects.get(pk=city_pk).region_id == "C01"
    other = outsider["city_marketer"]  # C02
    for pk in (city_pk, county_pk):
        assert other.get(f"/knowledge/{pk}/").status_code == 404
        assert other.get(f"/knowledge/{pk}/edit/").status_code == 404
        assert post(other, f"/knowledge/{pk}/rate/", {"stars": 5}).status_code == 404
    assert other.get(f"/knowledge/{province_pk}/").status_code == 200
    home = other.get("/knowledge/?q=快点").content.decode()
    assert "全省快点" in home and "甲市专属快点" not in home and "甲一县快点" not in home
    # the county marketer sees their city's point (their county lies in it); the city marketer the county's
    assert clients["county_marketer"].get(f"/knowledge/{city_pk}/").status_code == 200
    assert clients["city_marketer"].get(f"/knowledge/{county_pk}/").status_code == 200
    # and nobody scopes a point outside their reach
    r = post(clients["county_marketer"], "/knowledge/new/", point_form(region_id="C02"))
    assert r.status_code == 422


def test_rate_comment_follow_and_lists(clients: dict[str, Any], kwh: Path) -> None:
    from tagcloud.web.knowledge.models import QuickPoint

    a = create(clients["county_marketer"], title="A 点")
    b = create(clients["county_marketer"], title="B 点")
    post(clients["city_marketer"], f"/knowledge/{a}/rate/", {"stars": 2})
    post(clients["city_marketer"], f"/knowledge/{a}/rate/", {"stars": 3})  # a user's rating is replaced
    post(clients["province_admin"], f"/knowledge/{a}/rate/", {"stars": 5})
    post(clients["city_marketer"], f"/knowledge/{b}/rate/", {"stars": 5})
    assert post(clients["city_marketer"], f"/knowledge/{b}/rate/", {"stars": 6}).status_code == 302
    pa, pb = QuickPoint.objects.get(pk=a), QuickPoint.objects.get(pk=b)
    assert (pa.rating, pa.rating_count, pb.rating) == (4.0, 2, 5.0)
    post(clients["city_marketer"], f"/knowledge/{a}/comment/", {"text": "很实用"})
    post(clients["city_marketer"], f"/knowledge/{a}/follow/")
    home = clients["city_marketer"].get("/knowledge/").content.decode()
    best = home.split('id="best"')[1].split("</section>")[0]
    assert best.index("B 点") < best.index("A 点")
    assert "A 点" in home.split('id="followed"')[1].split("</section>")[0]
    assert "很实用" in clients["county_marketer"].get(f"/knowledge/{a}/").content.decode()


def test_search_by_word_tag_and_product(clients: dict[str, Any], kwh: Path) -> None:
    c = clients["county_marketer"]
    create(
        c,
        title="周末出入高尔夫球场",
        knowledge="白领精英",
        cond="tag_0001",
        product_id=["P_GOLF"],
        strategy=["new_product"],
        reason=["golf lovers"],
    )
    create(
        c,
        title="Calls the traffic radio often",
        knowledge="car owner",
        cond="tag_0002 AND arpu >= 50",
        product_id=["P_CAR"],
        strategy=["cross_sell"],
        reason=["drives daily"],
    )

    def found(query: str) -> str:
        return c.get(f"/knowledge/?{query}").content.decode().split('id="results"')[1].split("</section>")[0]

    assert "高尔夫" in found("q=高尔夫") and "traffic" not in found("q=高尔夫")
    assert "高尔夫" in found("q=球")  # one CJK character: a substring scan
    assert "traffic" in found("q=TRAFFIC+radio")  # case-insensitive, every word
    assert "traffic" not in found("q=traffic+golfx")
    assert "traffic" in found("q=P_CAR") and "高尔夫" in found("q=golf")
    assert "traffic" in found("tag=arpu") and "高尔夫" not in found("tag=arpu")
    assert "高尔夫" in found("product=P_GOLF") and "traffic" not in found("product=P_GOLF")
    assert "traffic" not in found("q=100%25")  # LIKE wildcards are literal


def test_verify_publishes_a_knowledge_tag_the_engine_counts(clients: dict[str, Any], kwh: Path) -> None:
    from tagcloud.knowledge.wiki import verified_points
    from tagcloud.web.knowledge.models import QuickPoint

    cond = "arpu >= 60 AND tag_0002"
    pk = create(clients["county_marketer"], region_id="C01K01")
    assert post(clients["county_marketer"], f"/knowledge/{pk}/verify/").status_code == 403
    assert post(clients["knowledge_editor"], f"/knowledge/{pk}/verify/").status_code == 302
    p = QuickPoint.objects.get(pk=pk)
    assert p.status == "verified" and p.verified_version == 1 and p.verified_by == "demo_knowledge_editor"
    eng = engine(kwh)
    col = eng.index.columns[f"kp_{pk}"]
    assert col["category"] == "knowledge" and col["owner"] == "demo_county_marketer"
    assert col["reads"] == ["arpu", "tag_0002"] and col["rule"] == f"({cond}) AND county_id = 'C01K01'"
    assert eng.count(f"kp_{pk}") == eng.count(f"({cond}) AND county_id = 'C01K01'") > 0
    # the pages and the audience builder count it
    page = clients["county_marketer"].get(f"/knowledge/{pk}/").content.decode()
    assert f'id="tag-count" data-count="{eng.count(f"kp_{pk}")}"' in page
    r = post(clients["county_marketer"], "/audience/count/", {"cond": f"kp_{pk}"})
    assert f'data-count="{eng.count(f"kp_{pk}")}"' in r.content.decode()
    tag_page = clients["county_marketer"].get(f"/tags/kp_{pk}/").content.decode()
    assert "营销快点 #" in tag_page and "demo_county_marketer" in tag_page  # 口径 and owner
    assert "(arpu &gt;= 60 AND tag_0002) AND county_id = &#x27;C01K01&#x27;" in tag_page  # the rule
    lineage = tag_page.split("血缘")[1].split("</section>")[0]
    assert "tag_0002" in lineage and "arpu" in lineage
    [vp] = verified_points(kwh)
    assert vp.point_id == f"kp_{pk}" and vp.products == ("P_CAR", "P_STOCK")
    # a later edit does not change the published tag until verified again
    post(
        clients["county_marketer"],
        f"/knowledge/{pk}/edit/",
        point_form(base_version=1, region_id="C01K01", cond="arpu >= 90"),
    )
    assert verified_points(kwh)[0].condition == f"({cond}) AND county_id = 'C01K01'"


def test_long_tail_against_duckdb(clients: dict[str, Any], kwh: Path) -> None:
    import duckdb

    cond = "arpu >= 60 AND tag_0002"
    pk = create(clients["province_admin"], cond=cond)
    post(clients["knowledge_editor"], f"/knowledge/{pk}/verify/")
    html = clients["province_admin"].get(f"/knowledge/{pk}/products/").content.decode()
    assert 'id="long-tail-table"' in html
    from tagcloud.knowledge.longtail import long_tail

    eng = engine(kwh)
    lt = long_tail(eng, eng, f"kp_{pk}")
    wide = kwh / "wide" / "current" / "wide.parquet"
    con = duckdb.connect()
    products = [
        n for n, c in eng.index.columns.items() if c.get("category") == "product" and c["kind"] == "flag"
    ]
    assert products
    sql_cond = "arpu >= 60 AND tag_0002"
    total, group = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {sql_cond}) FROM '{wide}'"
    ).fetchone()  # type: ignore[misc]
    assert lt.group_size == group and lt.province_size == total
    for row in lt.products:
        g, p = con.execute(
            f"SELECT count(*) FILTER (WHERE {sql_cond} AND coalesce({row.column}, false)), "
            f"count(*) FILTER (WHERE coalesce({row.column}, false)) FROM '{wide}'"
        ).fetchone()  # type: ignore[misc]
        assert row.members == g
        assert row.share == pytest.approx(g / group) and row.province_share == pytest.approx(p / total)
    none = " AND ".join(f"NOT coalesce({c}, false)" for c in products)
    (n_none,) = con.execute(f"SELECT count(*) FILTER (WHERE {sql_cond} AND {none}) FROM '{wide}'").fetchone()  # type: ignore[misc]
    assert lt.none_share == pytest.approx(n_none / group)
    lifts = [r.lift or 0 for r in lt.products]
    assert lifts == sorted(lifts, reverse=True)


def test_extract_is_audited_and_campaign_is_prefilled(clients: dict[str, Any], kwh: Path) -> None:
    from tagcloud.web.accounts.models import AuditEvent
    from tagcloud.web.knowledge.models import QuickPoint

    c = clients["county_marketer"]
    pk = create(c)
    r = post(c, f"/knowledge/{pk}/extract/", {"cond": "arpu >= 60 AND tag_0002"})
    body = b"".join(r.streaming_content).decode()  # type: ignore[attr-defined]
    n = engine(kwh, scope="county_id = 'C01K01'").count("arpu >= 60 AND tag_0002")
    assert body.count("\n") == n + 1 and "****" in body
    assert AuditEvent.objects.get(action="export").rows == n
    page = c.get(f"/knowledge/{pk}/products/").content.decode()
    import html as h

    url = h.unescape(page.split('id="start-campaign" href="')[1].split('"')[0])
    r = c.get(url)
    assert r.status_code == 302 and r["Location"].startswith("/campaigns/?")
    design = c.get(r["Location"]).content.decode()
    assert 'value="arpu &gt;= 60 AND tag_0002"' in design and 'value="P_CAR"' in design
    assert QuickPoint.objects.get(pk=pk).uses == 2
    assert "KP" in c.get(f"/knowledge/{pk}/").content.decode().split('id="uses"')[1]


def test_customer_view_shows_knowledge_labels_and_products(clients: dict[str, Any], kwh: Path) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    pk = create(clients["county_marketer"])
    post(clients["knowledge_editor"], f"/knowledge/{pk}/verify/")
    n = number_in(kwh, f"kp_{pk} AND county_id = 'C01K01'")
    r = post(clients["county_marketer"], "/knowledge/customer/", {"msisdn": n})
    html = r.content.decode()
    assert r.status_code == 200
    labels = html.split('id="knowledge-labels"')[1].split("</section>")[0]
    assert "有车一族" in labels and f"kp_{pk}" in labels
    assert (
        "车主服务" in html.split('id="recommended"')[1] and n[:3] + "****" + n[-4:] in html and n not in html
    )
    assert AuditEvent.objects.filter(action="lookup").count() == 1
    other = number_in(kwh, "county_id = 'C03K01'")
    assert post(clients["county_marketer"], "/knowledge/customer/", {"msisdn": other}).status_code == 404
    assert clients["analyst"].get("/knowledge/customer/").status_code == 403


def test_permissions(clients: dict[str, Any], kwh: Path) -> None:
    assert clients["channel_agent"].get("/knowledge/").status_code == 403
    assert clients["approver"].get("/knowledge/").status_code == 403
    assert clients["township_manager"].get("/knowledge/").status_code == 200


def test_the_loop_closes_campaign_results_on_the_point(
    clients: dict[str, Any],
    kwh: Path,
    city_approver: Any,  # noqa: F811
    campaign_settings: Any,  # noqa: F811
) -> None:
    """A campaign started from the point runs (SMS over SMPP, then a call wave whose results are
    uploaded); the point's page shows its acceptance against control from the evaluation."""
    import csv
    import io

    from tagcloud.campaigns.evaluate import evaluate
    from tagcloud.web.campaigns import service

    from .test_campaigns import DESIGN, START, _run

    marketer = clients["county_marketer"]
    pk = create(marketer, cond="arpu >= 40")
    post(clients["knowledge_editor"], f"/knowledge/{pk}/verify/")
    cid = f"KP{pk}-1"
    r = marketer.get(f"/knowledge/{pk}/campaign/", {"campaign_id": cid, "condition": f"kp_{pk}"})
    assert r.status_code == 302
    design = {
        **DESIGN,
        "campaign_id": cid,
        "condition": f"kp_{pk}",
        "offer_high": "P_CAR",
        "offer_rest": "P_SEC",
    }
    assert post(marketer, "/campaigns/design/", {**design, "submit": "1"})["Location"] == f"/campaigns/{cid}/"
    post(city_approver, f"/campaigns/{cid}/review/", {"decision": "approve", "comment": "ok"})
    assert "done" in _run(marketer, cid, START)
    _run(marketer, cid, START + __import__("datetime").timedelta(days=3))
    [calls] = service.call_lists(cid)
    rows = list(
        csv.DictReader(
            io.StringIO(
                b"".join(marketer.get(f"/campaigns/{cid}/calls/{calls.name}").streaming_content).decode()
            )
        )
    )
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["contact_id", "result"])
    for i, row in enumerate(rows):
        w.writerow([row["contact_id"], "accepted" if i % 4 == 0 else "refused"])
    up = io.BytesIO(out.getvalue().encode())
    up.name = "results.csv"
    post(marketer, f"/campaigns/{cid}/call-results/", {"results": up, "now": START.isoformat()})

    with service.open_ledger() as led, service.open_store() as s:
        d = s.design(cid)
        rep = evaluate(led, d, service.target_of(d, engine(kwh, scope="county_id = 'C01K01'")), None)
    o = rep.overall
    assert o.action_successes == len(range(0, len(rows), 4)) > 0
    uses = marketer.get(f"/knowledge/{pk}/").content.decode().split('id="uses"')[1].split("</section>")[0]
    assert cid in uses and f"({o.action_n})" in uses and f"({o.control_n})" in uses
    assert f"{round(o.action_rate * 100)}%" in uses


def test_english_wiki_pages_show_no_chinese(clients: dict[str, Any], kwh: Path) -> None:
    from .conftest import REGIONS, synth_regions
    from .test_i18n import _english, chinese_shown

    pk = create(clients["county_marketer"])
    post(clients["knowledge_editor"], f"/knowledge/{pk}/verify/")
    post(
        clients["county_marketer"],
        f"/knowledge/{pk}/edit/",
        point_form(base_version=1, title="常拨交通台 v2"),
    )
    marketer = _english(clients["county_marketer"])
    n = number_in(kwh, f"kp_{pk} AND county_id = 'C01K01'")
    pages = {
        "home": marketer.get("/knowledge/?q=交通"),
        "new": marketer.get("/knowledge/new/"),
        "point": marketer.get(f"/knowledge/{pk}/"),
        "edit": marketer.get(f"/knowledge/{pk}/edit/"),
        "diff": marketer.get(f"/knowledge/{pk}/diff/?a=1&b=2"),
        "products": marketer.get(f"/knowledge/{pk}/products/"),
        "customer": post(marketer, "/knowledge/customer/", {"msisdn": n}),
        "conflict": post(marketer, f"/knowledge/{pk}/edit/", point_form(base_version=1)),
    }
    form = point_form()
    data = {form["title"], "常拨交通台 v2", form["knowledge"], form["description"], *form["reason"]}
    data |= {name for _, name, _, _ in PRODUCTS} | {r["name"] for r in REGIONS + synth_regions()}
    found = {}
    for name, resp in pages.items():
        assert resp.status_code in (200, 409), (name, resp.status_code)
        left = chinese_shown(resp.content.decode(), data)
        if left:
            found[name] = left
    assert not found, f"English wiki pages still show Chinese: {found}"


@pytest.mark.django_db(transaction=True)
def test_two_verifications_at_once_publish_both(clients: dict[str, Any], kwh: Path) -> None:
    """Publishing is serialised per warehouse: two editors verifying at the same moment leave one
    intact index carrying both knowledge tags."""
    import threading

    from django.db import connection

    from tagcloud.web.knowledge import service
    from tagcloud.web.knowledge.models import PointStatus, QuickPoint

    a = create(clients["county_marketer"], cond="arpu >= 70")
    b = create(clients["county_marketer"], cond="tag_0001")
    QuickPoint.objects.filter(pk__in=[a, b]).update(status=PointStatus.VERIFIED, verified_version=1)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            service.publish(kwh)
        except BaseException as e:
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    eng = engine(kwh)
    assert eng.count(f"kp_{a}") == eng.count("arpu >= 70") and eng.count(f"kp_{b}") == eng.count("tag_0001")
