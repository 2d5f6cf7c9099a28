from __future__ import annotations

from pathlib import Path

import pytest

from tagcloud.audience.groups import save_group
from tagcloud.audience.parallel import ShardPool
from tagcloud.audience.query import AudienceEngine


@pytest.mark.slow
def test_worker_processes_answer_shards_like_one_process(warehouse: Path, tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    wh.mkdir()
    for part in ("wide", "index"):
        (wh / part).symlink_to(warehouse / part)
    serial = AudienceEngine.open(wh)
    save_group(serial, "g", "tag_0003 OR arpu > 90")
    conds = [
        "tag_0001 AND NOT tag_0002",
        "NOT (arpu > 40 AND brand = 'gotone') OR in_group('g')",
        "mou BETWEEN 10 AND 300",
    ]
    want = [(serial.count(c), serial.members(c)) for c in conds]
    with ShardPool(serial.index.folder, workers=2) as pool:
        assert pool.n_shards == 3
        par = AudienceEngine.open(wh)
        par.pool = pool
        assert [(par.count(c), par.members(c)) for c in conds] == want
    with pytest.raises(ValueError, match="workers"):
        ShardPool(serial.index.folder, workers=0)
