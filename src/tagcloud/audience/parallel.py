"""Answer one query with several processes, one shard each (shards are id ranges).

pyroaring holds the GIL, so parallelism means processes: each worker opens the index once
(memory-mapped dictionary, bitmaps loaded lazily) and runs plans on the shards it is handed.
Plans are small picklable dataclasses (saved groups travel as portable Roaring bytes).

    with ShardPool(engine.index.folder, workers=4) as pool:
        engine.pool = pool
        engine.count("arpu >= 80 AND NOT tag_0003")
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from tagcloud.audience.index import AudienceIndex
from tagcloud.audience.plan import Node, ShardRun

if TYPE_CHECKING:
    from pyroaring import BitMap

_INDEX: AudienceIndex | None = None


def _open(folder: str) -> None:
    global _INDEX
    _INDEX = AudienceIndex(Path(folder))


def _count(node: Node, shard: int) -> int:
    assert _INDEX is not None
    return ShardRun(_INDEX.shards[shard]).count(node)


def _members(node: Node, shard: int) -> bytes:
    assert _INDEX is not None
    return bytes(ShardRun(_INDEX.shards[shard]).truth(node).serialize())


class ShardPool:
    """A pool of worker processes over one index folder; ``count`` / ``members`` fan out by shard."""

    def __init__(self, folder: Path, workers: int = 2) -> None:
        import multiprocessing as mp

        if workers < 1:
            raise ValueError(f"shard pool: workers must be ≥ 1, not {workers}")
        self.folder = Path(folder)
        self.n_shards = len(AudienceIndex(self.folder).shards)
        # spawn, not fork: the parent may hold DuckDB/Polars threads that fork would copy mid-flight
        self._pool = ProcessPoolExecutor(
            workers, mp.get_context("spawn"), initializer=_open, initargs=(str(folder),)
        )

    def count(self, node: Node) -> int:
        return sum(self._pool.map(_count, [node] * self.n_shards, range(self.n_shards)))

    def members(self, node: Node) -> BitMap:
        from pyroaring import BitMap

        parts = self._pool.map(_members, [node] * self.n_shards, range(self.n_shards))
        return BitMap.union(BitMap(), *(BitMap.deserialize(p) for p in parts))

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
