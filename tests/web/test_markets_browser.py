"""Issue 16's done-when in headless chromium: a competition report goes verify → distribute →
reply; a county marketer draws a campus hot area on the map and gets its student list.
Screenshots go to docs/screenshots/markets-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import login, screenshot
from .markets_fixtures import load_cells, write_markets_warehouse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def markets_wh(tmp_path_factory: Any) -> Any:
    return write_markets_warehouse(tmp_path_factory.mktemp("markets-browser-wh"))


@pytest.fixture
def accounts(demo_accounts: dict[str, Any], markets_wh: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    from django.contrib.auth.models import User

    from tagcloud.web.accounts.models import Profile, Role

    settings.WAREHOUSE_DIR = markets_wh
    settings.MEDIA_ROOT = tmp_path / "uploads"
    load_cells()
    u = User.objects.create_user("deputy", password="pw-deputy-1234")
    Profile.objects.create(user=u, role=Role.objects.get(code="county_marketer"), region_id="C01K01")
    return {a.role: a for a in demo_accounts.values()}


def _as(browser: Any, base: str, username: str, password: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    pg = ctx.new_page()
    login(pg, base, username, password)
    return pg


def test_competition_report_verify_distribute_reply(
    browser: Any, live_server: Any, accounts: dict[str, Any]
) -> None:
    base = live_server.url
    agent = accounts["channel_agent"]
    pg = _as(browser, base, agent.username, agent.password)
    pg.goto(f"{base}/markets/competition/new/")
    pg.select_option("select[name=competitor]", "unicom")
    pg.select_option("select[name=kind]", "campaign")
    pg.fill("input[name=title]", "联通校园迎新: 19元30G")
    pg.fill("textarea[name=text]", "示范大学东门设点, 新生办卡送耳机 <b>不是粗体</b>")
    pg.click("#report-form button[type=submit]")
    pg.wait_for_selector("#state[data-state=reported]")
    assert "<b>不是粗体</b>" in pg.inner_text("#report-text")  # escaped, shown as text
    url = pg.url
    pg.context.close()

    county = accounts["county_marketer"]
    pg = _as(browser, base, county.username, county.password)
    pg.goto(url)
    pg.click("#verify button[value=verify]")
    pg.wait_for_selector("#state[data-state=office_verified]")
    pg.context.close()

    pg = _as(browser, base, "deputy", "pw-deputy-1234")
    pg.goto(url)
    pg.fill("#verify textarea[name=comment]", "建议推出校园 5G 迎新套餐")
    pg.click("#verify button[value=verify]")
    pg.wait_for_selector("#state[data-state=county_verified]")
    pg.context.close()

    city = accounts["city_marketer"]
    pg = _as(browser, base, city.username, city.password)
    pg.goto(url)
    pg.select_option("#verify select[name=importance]", "3")
    pg.check(f"#verify input[name=recipients][value={city.username}]")
    pg.click("#verify button[value=verify]")
    pg.wait_for_selector("#state[data-state=distributed]")
    pg.fill("#respond textarea[name=comment]", "9月1日起校园5G迎新: 29元60G, 送校园V网")
    pg.click("#respond button[value=respond]")
    pg.wait_for_selector("#state[data-state=responded]")
    pg.fill("#reply-form textarea[name=text]", "各县参照执行, 月底回报效果")
    pg.click("#reply-form button[type=submit]")
    pg.wait_for_selector("#thread .reply")
    assert "29元60G" in pg.inner_text("#response")
    assert pg.locator("#events tr").count() == 5
    screenshot(pg, "markets-competition")
    pg.goto(f"{base}/markets/competition/")
    screenshot(pg, "markets-competition-feed")
    pg.context.close()


def test_county_draws_a_campus_and_gets_its_students(
    browser: Any, live_server: Any, accounts: dict[str, Any]
) -> None:
    base = live_server.url
    county = accounts["county_marketer"]
    pg = _as(browser, base, county.username, county.password)
    pg.goto(f"{base}/markets/hotareas/")
    pg.wait_for_function("window.tagcloudHotArea !== undefined")
    box = pg.locator("#map").bounding_box()
    assert box is not None
    for lon, lat in ((120.09, 30.49), (120.11, 30.49), (120.11, 30.51), (120.09, 30.51)):
        x, y = pg.evaluate(f"window.tagcloudHotArea.toPixel({lon}, {lat})")
        pg.mouse.click(box["x"] + x, box["y"] + y)
    assert pg.inner_text("#vertex-count") == "4"
    pg.fill("#area-name", "示范大学")
    pg.select_option("#area-kind", "campus")
    screenshot(pg, "markets-hotarea-draw")
    pg.click("#save-area")
    pg.wait_for_url("**/markets/hotareas/*/")
    pg.click("#students-link")
    pg.wait_for_selector("#area-count")
    assert pg.inner_text("#area-count strong") == "40"
    assert pg.locator("#members tbody tr").count() == 40
    assert "****" in pg.inner_text("#members")
    pg.wait_for_selector("#area-chart-box svg")
    screenshot(pg, "markets-hotarea-students")
    pg.context.close()
