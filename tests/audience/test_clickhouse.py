"""The audience index on ClickHouse (chDB in process): every generated condition counts the same as
the in-process engine, saved groups and region scopes included; a server through clickhouse-connect
where one answers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagcloud.audience.groups import save_group
from tagcloud.audience.query import AudienceEngine
from tests.audience.audience_strategies import conditions

chdb = pytest.importorskip("chdb", reason="chDB (ClickHouse in process) is not installed")


@pytest.fixture(scope="module")
def engine(warehouse: Path) -> AudienceEngine:
    eng = AudienceEngine.open(warehouse, can_unmask=True)
    save_group(eng, "grp_a", "tag_0003 OR arpu > 90", overwrite=True)
    save_group(eng, "grp_b", "brand = 'mzone' AND NOT tag_0001", overwrite=True)
    return eng


@pytest.fixture(scope="module")
def clickhouse(engine: AudienceEngine):
    from tagcloud.audience.clickhouse import ChdbRunner, ClickHouseAudience, export_index

    runner = ChdbRunner()
    stats = export_index(engine.index, runner, "tc_test")
    assert stats.numeric_columns > 0 and stats.codes > 0
    yield ClickHouseAudience(engine, runner, "tc_test")
    runner.close()


def test_export_holds_every_bitmap_merged_across_shards(engine: AudienceEngine, clickhouse) -> None:
    keys = {k for s in engine.index.shards for k in s.stored_keys()}
    rows = clickhouse.runner.rows("SELECT key, bitmapCardinality(bm) FROM tc_test.bitmaps")
    assert {r[0] for r in rows} == keys and len(rows) == len(keys)  # one row a key, not one a shard
    sizes = dict(rows)
    assert sizes["_alive"] == engine.index.subscribers
    flag = next(n for n, c in engine.index.columns.items() if c["kind"] == "flag")
    assert sizes[flag] == engine.count(flag)


@pytest.mark.slow
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_conditions_agree_with_the_engine(
    engine: AudienceEngine, warehouse: Path, clickhouse, data
) -> None:
    meta = json.loads((warehouse / "wide" / "current" / "meta.json").read_text(encoding="utf-8"))
    condition = data.draw(conditions(meta), label="condition")
    assert clickhouse.count(condition) == engine.count(condition), clickhouse.sql(condition)
    assert clickhouse.members(condition) == engine.members(condition), condition


def test_three_valued_logic_and_scope(engine: AudienceEngine, warehouse: Path, clickhouse) -> None:
    from tagcloud.audience.clickhouse import ClickHouseAudience

    for c in [
        "NOT (arpu > 50)",  # NULL arpu is neither
        "NOT (tag_0001 AND arpu > 50)",
        "NOT (tag_0001 OR arpu IS NULL)",
        "arpu BETWEEN 20 AND 60 AND NOT brand IN ('mzone', 'easyown')",
        "in_group('grp_a') AND NOT in_group('grp_b')",
        "NOT (arpu >= 0 AND brand IS NULL)",
    ]:
        assert clickhouse.count(c) == engine.count(c), c
    county = engine.index.columns["county_id"]["values"][0]
    scoped = AudienceEngine.open(warehouse, scope=f"county_id = '{county}'")
    ch = ClickHouseAudience(scoped, clickhouse.runner, "tc_test")
    assert ch.count("tag_0002") == scoped.count("tag_0002") < engine.count("tag_0002")


def test_keys_and_values_are_quoted_never_pasted() -> None:
    from tagcloud.audience.clickhouse import quote

    runner = chdb.session.Session()
    for text in ["a'b", "x\\' OR 1=1 --", "区县'", "\\"]:
        assert runner.query(f"SELECT {quote(text)}", "CSV").bytes().decode().strip().strip(
            '"'
        ) == text.replace('"', '""')
    runner.close()


def test_a_clickhouse_server_when_one_answers(engine: AudienceEngine) -> None:
    host = os.environ.get("TAGCLOUD_TEST_CLICKHOUSE", "127.0.0.1:8123")
    try:
        from tagcloud.audience.clickhouse import ClickHouseAudience, ServerRunner, export_index

        runner = ServerRunner(*host.split(":")[:1], port=int(host.split(":")[1]))
    except Exception as e:  # no server here is the common case on a laptop and in CI
        pytest.skip(f"no ClickHouse server at {host}: {e}")
    export_index(engine.index, runner, "tc_test")
    ch = ClickHouseAudience(engine, runner, "tc_test")
    assert ch.count("tag_0001 AND arpu > 50") == engine.count("tag_0001 AND arpu > 50")
