"""Generates ``docs/data-model.md`` from the model, so the document can never drift from the code."""

from __future__ import annotations

from tagcloud.data.codes import CODE_TABLES
from tagcloud.data.model import TABLES, Column


def _constraints(c: Column) -> str:
    parts = []
    if not c.nullable:
        parts.append("required")
    if c.codes:
        parts.append(f"codes: [{c.codes}](#code-{c.codes.replace('_', '-')})")
    if c.pattern:
        parts.append(f"format `{c.pattern}`" if c.pattern != "month_start" else "first day of a month")
    if c.min is not None:
        parts.append(f"≥ {c.min:g}")
    if c.max is not None:
        parts.append(f"≤ {c.max:g}")
    if c.references:
        parts.append(f"→ {c.references}")
    if c.sensitive:
        parts.append("personal (masked)")
    return "; ".join(parts)


def render_data_model() -> str:
    out = [
        "# The canonical operator model",
        "",
        "Generated from `src/tagcloud/data/model.py` by `tagcloud docs data-model`; do not edit by hand.",
        "",
        "Types are DuckDB SQL types. Timestamps are local time (Asia/Shanghai) without a zone. Money is",
        "in yuan, xDR volumes in bytes, monthly data use in MB, durations in seconds. Event tables are",
        "partitioned by the calendar day of their time column, bills by month; reference tables and",
        "snapshots are not partitioned. Every row read by `tagcloud ingest` is checked against these",
        "columns and either accepted or quarantined with a reason (see `docs/ingestion.md`).",
        "",
        "| table | 中文 | kind | key | partitioned by |",
        "|---|---|---|---|---|",
    ]
    for t in TABLES.values():
        part = t.partition.value if t.time_column is None else f"{t.partition.value} of `{t.time_column}`"
        out.append(
            f"| [{t.name}](#{t.name.replace('_', '-')}) | {t.zh} | {t.kind.value} | {', '.join(t.key)} | {part} |"
        )
    for t in TABLES.values():
        out += ["", f"## {t.name}", "", f"{t.zh} — {t.description}", ""]
        out += ["| column | type | unit | description | constraints |", "|---|---|---|---|---|"]
        for c in t.columns:
            out.append(f"| `{c.name}` | {c.type} | {c.unit or ''} | {c.description} | {_constraints(c)} |")
    out += ["", "## Code tables", ""]
    for name, codes in CODE_TABLES.items():
        out += [f"### code: {name}", "", "| code | 中文 | English |", "|---|---|---|"]
        out += [f"| `{c.code}` | {c.zh} | {c.en} |" for c in codes]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
