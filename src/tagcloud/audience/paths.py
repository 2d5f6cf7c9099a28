"""Where the audience engine finds the wide table and keeps its index and saved groups.

``WAREHOUSE`` is ``$TAGCLOUD_WAREHOUSE`` or ``var/warehouse``; inside it:
``wide/current/`` (from the tag builder), ``index/<build_id>/`` + ``index/CURRENT`` (a text file
naming the current build: portable where symlinks are not) and ``groups/<name>/``.
"""

from __future__ import annotations

import os
from pathlib import Path


def warehouse_root(warehouse: Path | str | None = None) -> Path:
    """The warehouse folder: the argument, else ``$TAGCLOUD_WAREHOUSE``, else ``var/warehouse``."""
    if warehouse is not None:
        return Path(warehouse)
    return Path(os.environ.get("TAGCLOUD_WAREHOUSE", "var/warehouse"))


def wide_dir(warehouse: Path) -> Path:
    return warehouse / "wide" / "current"


def index_root(warehouse: Path) -> Path:
    return warehouse / "index"


def groups_root(warehouse: Path) -> Path:
    return warehouse / "groups"


def current_index_dir(warehouse: Path) -> Path:
    """The folder of the current index; a clear error when none was built yet."""
    pointer = index_root(warehouse) / "CURRENT"
    if not pointer.exists():
        raise FileNotFoundError(
            f"no audience index under {index_root(warehouse)}: run `tagcloud audience index` after the build"
        )
    return index_root(warehouse) / pointer.read_text(encoding="utf-8").strip()
