"""The matching library's report page: permission, region scope (counts from the audience engine
against DuckDB over the same wide table), the evaluation tables, English, and the page in chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from .conftest import login, screenshot

SERVICES = ["BB_300M", "DP_10G", "G5_UP", "MB_MUSIC", "VAS_CWT"]
CHANNELS = ["sms", "hall", "app"]
# The report province's measured evaluation (docs/matching.md), so the page and its screenshot show real figures.
EVALUATION = json.loads((Path(__file__).parent / "matching_evaluation.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def matching_warehouse(tmp_path_factory: Any) -> Path:
    """The synthetic wide table with the library's two enum tags added, indexed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.synth import WideSpec, write_wide

    wh = tmp_path_factory.mktemp("matching_wh")
    write_wide(wh, WideSpec(rows=5_000, flags=4), quiet=True)
    cur = (wh / "wide" / "current").resolve()
    t = pq.read_table(cur / "wide.parquet")
    n = t.num_rows
    t = t.append_column("match_top_service", pa.array([SERVICES[(i * 7) % 5] for i in range(n)]))
    t = t.append_column("match_top_channel", pa.array([CHANNELS[(i * 3 + i // 5) % 3] for i in range(n)]))
    pq.write_table(t, cur / "wide.parquet")
    meta = json.loads((cur / "meta.json").read_text(encoding="utf-8"))
    for name, values in (("match_top_service", SERVICES), ("match_top_channel", CHANNELS)):
        meta["columns"].append({"name": name, "kind": "enum", "label_zh": name, "label_en": name,
                                "category": "matching", "values": values, "type": "tag", "unit": None})  # fmt: skip
    (cur / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    build_index(wh, quiet=True)
    (wh / "matching").mkdir()
    (wh / "matching" / "evaluation.json").write_text(json.dumps(EVALUATION), encoding="utf-8")
    return wh


@pytest.fixture
def on_matching(regions: None, settings: Any, matching_warehouse: Path) -> Path:
    settings.WAREHOUSE_DIR = matching_warehouse
    return matching_warehouse


def _wide_count(wh: Path, where: str) -> int:
    f = str((wh / "wide" / "current" / "wide.parquet").resolve())
    return int(duckdb.execute(f"SELECT count(*) FROM read_parquet(?) WHERE {where}", [f]).fetchall()[0][0])


def test_report_is_permission_checked_and_region_scoped(
    on_matching: Path, clients: dict[str, Any], demo_accounts: dict[str, Any]
) -> None:
    assert clients["channel_agent"].get("/matching/").status_code == 403  # no build_audience
    province = clients["province_admin"].get("/matching/")
    county = clients["county_marketer"].get("/matching/")
    assert province.status_code == county.status_code == 200
    body = county.content.decode()
    assert "VAS_STOCK" in body and "7.08" in body  # the evaluation's per-service row
    county_id = demo_accounts["county_marketer"].region_id
    reg_p, reg_c = province.context["regional"], county.context["regional"]
    assert reg_p["total"] == _wide_count(on_matching, "true")
    assert reg_c["total"] == _wide_count(on_matching, f"county_id = '{county_id}'") < reg_p["total"]
    for s, c in reg_c["services"]:
        assert c == _wide_count(on_matching, f"county_id = '{county_id}' AND match_top_service = '{s}'")


def test_report_without_outputs_says_what_to_run(regions: None, clients: dict[str, Any]) -> None:
    body = clients["province_admin"].get("/matching/").content.decode()
    assert "tagcloud matching evaluate" in body and "tagcloud matching build" in body


@pytest.mark.browser
def test_report_page_in_chromium(
    page: Any, live_server: Any, on_matching: Path, demo_accounts: dict[str, Any]
) -> None:
    a = demo_accounts["county_marketer"]
    login(page, live_server.url, a.username, a.password)
    page.click("nav a[href='/matching/']")
    page.wait_for_selector("#hit-rates")
    assert page.locator("#hit-rates tbody tr").count() == len(EVALUATION["rows"])
    assert page.locator("#regional-services tbody tr").count() >= 1
    screenshot(page, "matching")
    page.click("button[name=language][value=en]")
    page.wait_for_selector("h1:has-text('Customer–service–channel matching library')")
    assert "客户" not in page.inner_text("main")
    screenshot(page, "matching-en")
