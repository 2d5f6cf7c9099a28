"""Compare two wide tables (e.g. the DuckDB and the Spark build of one period)."""

from __future__ import annotations

from typing import Any


def diff_tables(a: Any, b: Any, rel: float = 1e-9, limit: int = 10) -> list[str]:
    """Differences between two Arrow wide tables (rows matched by msisdn): column sets, row counts,
    and per column the values that differ (doubles equal within ``rel``). Empty when identical."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    out: list[str] = []
    if a.column_names != b.column_names:
        only_a = [c for c in a.column_names if c not in b.column_names]
        only_b = [c for c in b.column_names if c not in a.column_names]
        out.append(f"columns differ: only in first {only_a[:5]}, only in second {only_b[:5]}")
        return out
    if a.num_rows != b.num_rows:
        return [f"rows differ: {a.num_rows} vs {b.num_rows}"]
    a = a.sort_by("msisdn")
    b = b.sort_by("msisdn")
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if x.type != y.type:
            try:
                y = y.cast(x.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                out.append(f"{name}: type {x.type} vs {y.type}")
                continue
        if pa.types.is_floating(x.type):
            xa = x.to_numpy(zero_copy_only=False).astype(float)
            ya = y.to_numpy(zero_copy_only=False).astype(float)
            both_nan = np.isnan(xa) & np.isnan(ya)
            close = np.isclose(xa, ya, rtol=rel, atol=1e-9) | both_nan
            bad = int((~close).sum())
        else:
            eq = pc.fill_null(pc.equal(x, y), False)
            both_null = pc.and_(pc.is_null(x), pc.is_null(y))
            bad = int(pc.sum(pc.invert(pc.or_(eq, both_null))).as_py() or 0)
        if bad:
            out.append(f"{name}: {bad} rows differ")
            if len(out) >= limit:
                break
    return out
