"""Each page's main path in headless chromium, with a screenshot of what the user sees."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_home_language_and_audit(page: Any, live_server: Any, demo_accounts: dict[str, Any]) -> None:
    page.goto(f"{live_server.url}/login/")
    screenshot(page, "login")
    a = demo_accounts["county_marketer"]
    login(page, live_server.url, a.username, a.password)
    assert "区县营销人员" in page.inner_text("header")
    # htmx is served locally (no CDN): the library must have loaded.
    assert page.evaluate("typeof htmx") == "object"
    screenshot(page, "home")
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert "County marketer" in page.inner_text("header")
    page.click("button[name=language][value=zh-hans]")
    page.wait_for_load_state()

    adm = demo_accounts["province_admin"]
    page.click("header form.inline button")
    login(page, live_server.url, adm.username, adm.password)
    page.click("text=审计日志")
    assert page.url.endswith("/audit/")
    screenshot(page, "audit")
