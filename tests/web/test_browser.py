"""Each page's main path in headless chromium, as a new county marketer would go: log in, find a
tag by its Chinese name, build a three-condition audience watching the count change, look at its
profile, save it, look up one of its members. Screenshots of each page go to docs/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import engine, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _count(page: Any, previous: str | None = None) -> str:
    """The builder's count once it differs from ``previous`` (htmx swaps it in)."""
    page.wait_for_function(
        "(prev) => { const el = document.getElementById('count-value');"
        " return el && el.dataset.count !== prev; }",
        arg=previous,
    )
    return str(page.get_attribute("#count-value", "data-count"))


def test_county_marketer_main_path(
    page: Any, live_server: Any, demo_accounts: dict[str, Any], warehouse: Any
) -> None:
    base = live_server.url
    page.goto(f"{base}/login/")
    screenshot(page, "login")
    a = demo_accounts["county_marketer"]
    login(page, base, a.username, a.password)
    assert "区县营销人员" in page.inner_text("header")
    assert page.evaluate("typeof htmx") == "object"  # served locally, no CDN
    screenshot(page, "home")

    # Find a tag by its Chinese name.
    page.click("header >> text=标签库")
    page.fill("input[name=q]", "网龄")
    page.click("button:has-text('搜索')")
    page.wait_for_selector("#search-results")
    screenshot(page, "tag-library")
    page.click("#search-results a[href='/tags/tenure_months/']")
    page.wait_for_selector("h1:has-text('网龄')")
    page.wait_for_selector(".chart svg")  # the coverage chart drew (ECharts, served locally)
    screenshot(page, "tag")

    # Build a three-condition audience; the count changes with each condition.
    page.click("header >> text=即席查询")
    everyone = _count(page)
    assert int(everyone) == engine(warehouse, scope="county_id = 'C01K01'").count("TRUE")
    page.fill("#rows .cond-row input", "arpu >= 50")
    one = _count(page, everyone)
    page.fill("#pick-search", "品牌")
    page.select_option("#pick-column", "brand")
    page.select_option("#pick-op", "=")
    page.fill("#pick-value", "gotone")
    page.click("#picker button[type=submit]")
    two = _count(page, one)
    page.click("button:has-text('手工输入一行条件')")
    page.keyboard.type("NOT tag_0001")
    three = _count(page, two)
    expected = engine(warehouse, scope="county_id = 'C01K01'").count(
        "(arpu >= 50) AND (brand = 'gotone') AND (NOT tag_0001)"
    )
    assert int(everyone) > int(one) > int(two) >= int(three) == expected
    # A typo is marked where it is, with the closest name.
    page.click("button:has-text('手工输入一行条件')")
    page.keyboard.type("arpux > 1")
    page.wait_for_selector(".cond-error mark")
    assert "arpu" in page.inner_text(".cond-error")
    page.click(".cond-row:last-child .remove")
    _count(page, None)

    page.click("button:has-text('查看画像')")
    page.wait_for_selector("#result .chart svg")
    screenshot(page, "audience")
    page.fill("input[name=name]", "k01_rich_gotone")
    page.click("fieldset:has-text('保存为客户群') button")
    page.wait_for_selector("#result:has-text('k01_rich_gotone')")

    page.click("header >> text=客户群")
    assert "k01_rich_gotone" in page.inner_text("table")
    screenshot(page, "groups")

    # Look up one of its members.
    member = str(
        engine(warehouse, scope="county_id = 'C01K01'", unmask=True).list_members(
            "(arpu >= 50) AND (brand = 'gotone') AND (NOT tag_0001)", limit=1
        )["msisdn"][0]
    )
    page.click("header >> text=客户360")
    page.fill("input[name=msisdn]", member)
    page.click("button:has-text('查询')")
    page.wait_for_selector("#customer-number")
    assert page.inner_text("#customer-number") == member[:3] + "****" + member[-4:]
    screenshot(page, "customer")


def test_admin_audit_and_english(page: Any, live_server: Any, demo_accounts: dict[str, Any]) -> None:
    base = live_server.url
    adm = demo_accounts["province_admin"]
    login(page, base, adm.username, adm.password)
    page.click("header >> text=审计日志")
    assert page.url.endswith("/audit/")
    screenshot(page, "audit")
    page.click("header >> text=管理后台")
    page.wait_for_selector("#content")
    screenshot(page, "admin")
    page.goto(f"{base}/")
    page.click("button[name=language][value=en]")
    page.wait_for_selector("header:has-text('Province administrator')")
    assert "Dashboard" in page.inner_text("main")
    screenshot(page, "home-en")
