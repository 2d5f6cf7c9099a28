"""The matching library end to end on the small simulated province: build, the tags in the wide
table, the audience engine's counts against DuckDB over the library's own table, the lookup."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warehouse(small_province: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tagcloud.data.ingest import ingest
    from tagcloud.models.registry import run_models
    from tagcloud.tags.build import build

    wh = tmp_path_factory.mktemp("matching") / "wh"
    ingest(small_province, wh)
    run_models(wh, quiet=True)
    first = build(wh, quiet=True)  # the first build: no matching output yet, its tags left out
    assert "match_top_service" in first.skipped_tags
    return wh


def test_build_covers_everyone_and_the_audience_engine_queries_it(warehouse: Path) -> None:
    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.query import AudienceEngine
    from tagcloud.knowledge.matching import MatchingConfig, build, matches_for
    from tagcloud.tags.build import build as build_tags

    s = build(warehouse, config=MatchingConfig(folds=3, max_iter=30))
    assert s.coverage == 1.0 and s.services >= 20
    assert sum(s.by_layer.values()) == s.subscribers  # every subscriber's top match has one layer
    r = build_tags(warehouse, quiet=True)
    assert "match_top_service" not in r.skipped_tags
    build_index(warehouse)
    eng = AudienceEngine.open(warehouse)
    con = duckdb.connect()
    t = str(warehouse / "models" / "matching.parquet")
    for cond in ("match_top_service = 'G5_UP'", "match_vas_cwt AND match_top_channel = 'hall'"):
        want = con.execute(f"SELECT count(*) FROM read_parquet(?) WHERE {cond}", [t]).fetchall()[0][0]
        assert eng.count(cond) == want
    one = con.execute("SELECT msisdn, match_top_service FROM read_parquet(?) LIMIT 1", [t]).fetchall()[0]
    got = matches_for(one[0], warehouse)
    assert got[0].rank == 1 and got[0].service_id == one[1]
    assert [g.layer for g in got] == sorted(g.layer for g in got)  # priority order
