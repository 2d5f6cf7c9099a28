"""Fixtures of the web tests: a small region hierarchy and one logged-in client per role."""

from __future__ import annotations

from typing import Any

import pytest

# province → 2 cities → 3 counties → 4 townships; "in region" for the county marketer is XA.
REGIONS: list[dict[str, Any]] = [
    {"region_id": "P", "name": "示范省", "name_en": "Demo", "level": "province", "parent_id": None},
    {"region_id": "X", "name": "甲市", "name_en": "Jia", "level": "city", "parent_id": "P"},
    {"region_id": "Y", "name": "乙市", "name_en": "Yi", "level": "city", "parent_id": "P"},
    {"region_id": "XA", "name": "甲一县", "name_en": "Jia-1", "level": "county", "parent_id": "X"},
    {"region_id": "XB", "name": "甲二县", "name_en": "Jia-2", "level": "county", "parent_id": "X"},
    {"region_id": "YA", "name": "乙一县", "name_en": "Yi-1", "level": "county", "parent_id": "Y"},
    {
        "region_id": "XA1",
        "name": "甲一镇",
        "name_en": "Jia-1-1",
        "level": "township",
        "parent_id": "XA",
        "is_urban": False,
    },
    {
        "region_id": "XA2",
        "name": "甲二镇",
        "name_en": "Jia-1-2",
        "level": "township",
        "parent_id": "XA",
        "is_urban": True,
    },
    {"region_id": "XB1", "name": "甲三镇", "name_en": "Jia-2-1", "level": "township", "parent_id": "XB"},
    {"region_id": "YA1", "name": "乙一镇", "name_en": "Yi-1-1", "level": "township", "parent_id": "YA"},
]

ROLE_CODES = (
    "province_admin",
    "city_marketer",
    "county_marketer",
    "township_manager",
    "analyst",
    "approver",
    "channel_agent",
    "knowledge_editor",
)


def synth_regions() -> list[dict[str, Any]]:
    """The region hierarchy of the audience engine's synthetic wide table (C01 → C01K01 → C01K01T01)."""
    from tagcloud.audience.synth import _region_ids

    cities, counties, towns = _region_ids()
    rows: list[dict[str, Any]] = [
        {"region_id": "P", "name": "示范省", "level": "province", "parent_id": None}
    ]
    rows += [
        {"region_id": c, "name": f"{c}市", "level": "city", "parent_id": "P"} for c in sorted(set(cities))
    ]
    rows += [
        {"region_id": k, "name": f"{k}县", "level": "county", "parent_id": k[:3]}
        for k in sorted(set(counties))
    ]
    rows += [{"region_id": t, "name": f"{t}镇", "level": "township", "parent_id": t[:6]} for t in towns]
    return rows


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: Any) -> Any:
    """A synthetic wide table (20,000 subscribers) indexed by the audience engine, once per run."""
    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.synth import WideSpec, write_wide

    wh = tmp_path_factory.mktemp("warehouse")
    write_wide(wh, WideSpec(rows=20_000, flags=12), quiet=True)
    build_index(wh, quiet=True)
    return wh


@pytest.fixture
def regions(db: Any, warehouse: Any, settings: Any) -> None:
    """The synthetic hierarchy in the database, and the pages pointed at the synthetic warehouse."""
    from tagcloud.web.reference.load import load_regions

    settings.WAREHOUSE_DIR = warehouse
    load_regions(synth_regions())


@pytest.fixture
def demo_accounts(regions: None) -> dict[str, Any]:
    """One account per role on the C01 → C01K01 → C01K01T01 chain, keyed by role code."""
    from tagcloud.web.accounts.demo import create_demo_users

    return {a.role: a for a in create_demo_users()}


@pytest.fixture
def clients(demo_accounts: dict[str, Any]) -> dict[str, Any]:
    """A logged-in Django test client per role (CSRF checks on, as in production)."""
    from django.contrib.auth.models import User
    from django.test import Client

    out = {}
    users = {
        u.username: u for u in User.objects.filter(username__in=[a.username for a in demo_accounts.values()])
    }
    for role, a in demo_accounts.items():
        c = Client(enforce_csrf_checks=True)
        c.force_login(users[a.username])  # logging in through the form is tested on its own
        out[role] = c
    return out


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # The production hasher is slow by design; tests log in dozens of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Per-process caches outlive a test's rolled-back transaction (which fires no signals).
    from tagcloud.web.accounts.backends import forget_permissions
    from tagcloud.web.accounts.scope import forget_parent_map

    forget_permissions()
    forget_parent_map()


@pytest.fixture(autouse=True)
def _campaign_db(settings: Any, tmp_path: Any, monkeypatch: Any) -> None:
    # Campaign pages and the touchpoint API write a store + ledger: keep them out of var/.
    settings.CAMPAIGN_DB = f"sqlite:///{tmp_path / 'campaigns.db'}"
    settings.CAMPAIGN_DIR = str(tmp_path / "campaigns")
    # Campaign passes are jobs: their records and queue too (the queue named for the test). Set
    # through monkeypatch: a variable left behind would point later processes at a deleted folder.
    import uuid

    for k, v in {
        "TAGCLOUD_JOBS_DB": f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        "TAGCLOUD_JOBS_QUEUE": f"sqlite:///{tmp_path / 'jobs-queue.sqlite'}",
        "TAGCLOUD_JOBS_QUEUE_NAME": f"t{uuid.uuid4().hex[:10]}",
    }.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def job_worker() -> Any:
    """A job worker thread in this process (as ``serve --with-worker`` runs one beside the server)."""
    from tagcloud.jobs.worker import InProcessWorker

    w = InProcessWorker()
    w.start()
    yield w
    w.stop()


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Any:
    """Headless Debian chromium driven by Playwright (never a downloaded browser build)."""
    import os
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: `make browser` installs Debian's chromium")
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Any:
    ctx = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
    pg = ctx.new_page()
    yield pg
    ctx.close()


def screenshot(page: Any, name: str) -> None:
    """Save what a user sees to docs/screenshots/NAME.png (the docs show these)."""
    from pathlib import Path

    out = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def login(page: Any, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base_url}/")


def post(client: Any, url: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
    """POST as the browser does: with the CSRF token the pages hand out (header, as htmx sends it)."""
    if "csrftoken" not in client.cookies:
        client.get("/login/")
    token = client.cookies["csrftoken"].value
    return client.post(url, data or {}, HTTP_X_CSRFTOKEN=token, **extra)


@pytest.fixture
def outsider(regions: None) -> dict[str, Any]:
    """For each role, a client whose account sits in another city (C02 chain): out-of-region."""
    from django.contrib.auth.models import User
    from django.test import Client

    from tagcloud.web.accounts.models import Profile, Role
    from tagcloud.web.accounts.roles import ROLES

    chain = {"province": "P", "city": "C02", "county": "C02K01", "township": "C02K01T01"}
    out = {}
    for d in ROLES:
        u = User.objects.create_user(f"out_{d.code}", password="pw-out-1234")
        Profile.objects.create(user=u, role=Role.objects.get(code=d.code), region_id=chain[d.scope_level])
        c = Client(enforce_csrf_checks=True)
        c.force_login(u)
        out[d.code] = c
    return out


def engine(warehouse: Any, scope: str | None = None, unmask: bool = False) -> Any:
    """The audience engine straight from the library: the baseline the pages must agree with."""
    from tagcloud.audience.query import AudienceEngine

    return AudienceEngine.open(warehouse, scope=scope, can_unmask=unmask)


def number_in(warehouse: Any, condition: str) -> str:
    """A whole number of some subscriber matching ``condition`` (for lookups)."""
    return str(engine(warehouse, unmask=True).list_members(condition, limit=1)["msisdn"][0])


def pytest_configure(config: Any) -> None:
    # WhiteNoise warns that STATIC_ROOT (filled by collectstatic) is absent; tests serve from finders.
    config.addinivalue_line("filterwarnings", "ignore:No directory at")
