"""Index build: id order, stable ids across rebuilds, and clear errors on bad wide tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tagcloud.audience.groups import group_members, save_group
from tagcloud.audience.index import AudienceIndex, IndexError_
from tagcloud.audience.indexer import build_index
from tagcloud.audience.query import AudienceEngine
from tagcloud.audience.synth import WideSpec, write_wide


def _small(tmp_path: Path, rows: int = 6000) -> Path:
    write_wide(tmp_path, WideSpec(rows=rows, flags=6, enums=2, numbers=2, seed=5), quiet=True)
    build_index(tmp_path, quiet=True)
    return tmp_path


def _rewrite(wh: Path, table: pa.Table, build_id: str) -> None:
    pq.write_table(table, wh / "wide" / "current" / "wide.parquet")
    meta_path = wh / "wide" / "current" / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["build_id"] = build_id
    meta_path.write_text(json.dumps(meta), encoding="utf-8")


def test_ids_follow_region_order_and_regions_are_runs(tmp_path: Path) -> None:
    idx = AudienceIndex.open(_small(tmp_path))
    township = np.asarray(idx.dictionary.msisdn_by_id)  # ids 0..n-1, no holes on a first build
    assert (township > 0).all() and len(township) == idx.subscribers
    # ids were handed out township by township: each township's bitmap is one run of ids
    for v in idx.columns["township_id"]["counts"]:
        bm = idx.shards[0].bitmap(f"township_id={v}")
        if len(bm):
            assert bm.max() - bm.min() + 1 == len(bm)


def test_rebuild_keeps_ids_of_persisting_subscribers_and_never_reuses_ids(tmp_path: Path) -> None:
    wh = _small(tmp_path)
    eng1 = AudienceEngine.open(wh, can_unmask=True)
    save_group(eng1, "before", "tag_0001 OR brand = 'gotone'")
    before = {int(n): i for i, n in enumerate(np.asarray(eng1.index.dictionary.msisdn_by_id))}
    table = pq.read_table(wh / "wide" / "current" / "wide.parquet")
    keep = table.slice(500)  # the first 500 subscribers leave
    newcomers = table.slice(0, 300)
    newcomers = newcomers.set_column(0, "msisdn", pc.binary_replace_slice(newcomers["msisdn"], 0, 3, "199"))
    _rewrite(wh, pa.concat_tables([keep, newcomers]), "build-2")
    build_index(wh, quiet=True)
    eng2 = AudienceEngine.open(wh, can_unmask=True)
    assert eng2.index.build_id == "build-2" and eng2.index.subscribers == len(table) - 500 + 300
    d2 = eng2.index.dictionary
    for n in keep["msisdn"].to_pylist()[:200]:
        assert d2.id_of(n) == before[int(n)]
    new_ids = [d2.id_of(n) for n in newcomers["msisdn"].to_pylist()]
    assert min(new_ids) >= len(before)  # departed subscribers' ids are not handed out again
    left = table.slice(0, 500)["msisdn"].to_pylist()
    with pytest.raises(KeyError, match="not in this index"):
        d2.id_of(left[0])
    # the old group resolves to its persisting members through their numbers
    old = group_members(wh, "before", eng1.index)
    now = group_members(wh, "before", eng2.index)
    gone = {before[int(n)] for n in left}
    assert set(now) == set(old) - gone
    assert eng2.count("in_group('before')") == len(now)


def test_bad_wide_tables_get_clear_errors(tmp_path: Path) -> None:
    wh = _small(tmp_path, rows=3000)
    table = pq.read_table(wh / "wide" / "current" / "wide.parquet")
    bad = table.set_column(
        0,
        "msisdn",
        pc.if_else(
            pc.equal(pc.cast(pa.array(range(len(table))), pa.int64()), 7), "1380013800x", table["msisdn"]
        ),
    )
    _rewrite(wh, bad, "bad")
    with pytest.raises(IndexError_, match=r"1380013800x.*not an 11-digit"):
        build_index(wh, quiet=True)
    _rewrite(wh, pa.concat_tables([table, table.slice(0, 1)]), "dup")
    with pytest.raises(IndexError_, match="not unique"):
        build_index(wh, quiet=True)
    _rewrite(wh, table.drop_columns(["county_id"]), "nocounty")
    with pytest.raises(IndexError_, match="'county_id' is missing"):
        build_index(wh, quiet=True)
    with pytest.raises(IndexError_, match="multiple of 65536"):
        build_index(wh, shard_size=1000, quiet=True)
    with pytest.raises(FileNotFoundError, match="tagcloud audience index"):
        AudienceIndex.open(tmp_path / "nowhere")
