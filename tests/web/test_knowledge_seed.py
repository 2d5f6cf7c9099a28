"""The demo's quick points on a small simulated province: the seed loads through the same checks
as a page save (≥ 30 points, Chinese and English), the verified ones become knowledge tags the
engine counts, and the good points beat the weak ones on the simulator's planted acceptance."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """6,000 subscribers × 3 days, ingested, built and indexed (what `tagcloud demo` does)."""
    from tagcloud.audience.indexer import build_index
    from tagcloud.data.ingest import IngestOptions, ingest
    from tagcloud.sim.simulate import simulate
    from tagcloud.tags.build import build

    export = tmp_path_factory.mktemp("kp_province")
    simulate(export, subscribers=6000, days=3, seed=11, quiet=True)
    wh = tmp_path_factory.mktemp("kp_wh")
    ingest(export, wh, IngestOptions(quiet=True))
    build(wh, skip_missing_models=True, quiet=True)
    build_index(wh, quiet=True)
    return export, wh


def test_seed_points_load_publish_and_good_beat_weak(province: tuple[Path, Path], settings: Any) -> None:
    from tagcloud.audience.query import AudienceEngine
    from tagcloud.knowledge.evaluate import evaluate_points, summary
    from tagcloud.knowledge.seed import read_seed
    from tagcloud.knowledge.wiki import verified_points
    from tagcloud.web.engine import forget_engine
    from tagcloud.web.knowledge.models import QuickPoint
    from tagcloud.web.knowledge.seed import load_seed
    from tagcloud.web.reference.load import load_from_warehouse

    export, wh = province
    settings.WAREHOUSE_DIR = wh
    forget_engine(wh)
    load_from_warehouse(wh)
    seed = read_seed()
    assert len(seed) >= 30
    assert sum(bool(re.search(r"[\u4e00-\u9fff]", p["title"])) for p in seed) >= 10
    assert sum(not re.search(r"[\u4e00-\u9fff]", p["title"]) for p in seed) >= 5

    r = load_seed(wh)
    assert r.skipped == {} and r.created == len(seed) == QuickPoint.objects.count()
    assert r.published == r.verified == sum(bool(p.get("verified")) for p in seed)
    again = load_seed(wh, reindex=False)
    assert again.created == 0 and again.kept == len(seed)

    eng = AudienceEngine.open(wh)
    for vp in verified_points(wh):
        point = QuickPoint.objects.get(pk=int(vp.point_id[3:]))
        assert eng.count(vp.point_id) == eng.count(point.condition)

    results = evaluate_points(eng, export, seed)
    s = summary(results)
    assert s["good"] > 1.5 and s["good"] > 1.5 * s["weak"], s


def test_long_tail_of_a_knowledge_group_product_by_product(province: tuple[Path, Path]) -> None:
    """The car owners' group holds 车务通 more often than the province (the simulator's holdings
    follow the same trait), product by product from the catalogue's per-product flags."""
    from tagcloud.audience.query import AudienceEngine
    from tagcloud.knowledge.longtail import long_tail, product_columns

    _, wh = province
    eng = AudienceEngine.open(wh)
    cols = product_columns(eng)
    assert "holds_item_vas_cwt" in cols and all(c.startswith("holds_item_") for c in cols)
    lt = long_tail(eng, eng, "interest_car OR uses_chewutong OR uses_autohome")
    cwt = next(r for r in lt.products if r.column == "holds_item_vas_cwt")
    assert cwt.lift is not None and cwt.lift > 1.5, cwt
    assert 0 <= lt.none_share <= 1 and lt.group_size == eng.count(
        "interest_car OR uses_chewutong OR uses_autohome"
    )
    # every product's province share is its flag's count over the subscribers
    for r in lt.products:
        assert r.province_share == eng.count(r.column) / eng.index.subscribers
