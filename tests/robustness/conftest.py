from __future__ import annotations

from tagcloud.data.corpus import NOW

__all__ = ["NOW"]
