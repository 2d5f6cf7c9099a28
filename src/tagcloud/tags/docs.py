"""Text about the catalogue for people: one tag's card (``tagcloud tags show``) and the generated
catalogue page ``docs/tag-catalogue.md``."""

from __future__ import annotations

from pathlib import Path

from tagcloud.tags.catalogue import ASPECTS, Attribute, Catalogue, Tag, TagKind, load_catalogue


def show_text(cat: Catalogue, name: str, warehouse: Path | None = None) -> str:
    """A tag's or attribute's card: names, 口径 / definition, rule or SQL, lineage, coverage history."""
    item = cat.get(name)
    c = cat.categories[item.category]
    lines = [f"{item.id}  {item.name_zh} / {item.name_en}", f"category: {c.aspect} → {c.id} ({c.name_zh})"]
    if isinstance(item, Tag):
        lines += [
            f"kind: {item.kind.value}   status: {item.status.value}   refresh: {item.refresh.value}   "
            f"owner: {item.owner}   version: {item.version}",
            f"口径: {item.definition_zh}",
            f"definition: {item.definition_en}",
        ]
        if item.model:
            lines.append(f"model output: models/{item.model}.parquet column {item.column}")
        elif item.kind == TagKind.FLAG:
            lines.append(f"rule: {item.rule}")
        elif item.kind == TagKind.ENUM:
            lines.append("values (first matching rule wins):")
            lines += [f"  {v.value:<16} {v.name_zh} / {v.name_en}: {v.rule}" for v in item.values]
        else:
            lines.append(f"buckets of {item.of}:")
            lines += [
                f"  {v.value:<16} {v.name_zh}: " + (f"< {v.upper:g}" if v.upper is not None else "the rest")
                for v in item.values
            ]
        lines.append(
            "history: " + "; ".join(f"v{h.version} {h.date} {h.change}".strip() for h in item.history)
        )
    else:
        assert isinstance(item, Attribute)
        lines += [
            f"kind: {item.kind.value} ({item.sql_type})" + (f"   unit: {item.unit}" if item.unit else ""),
            f"source: {item.source}   expression: {item.expr}",
        ]
        if item.description:
            lines.append(f"description: {item.description}")
        if item.values:
            lines.append(f"values: {', '.join(item.values)}")
    lin = cat.lineage(item.id)
    lines += [
        f"reads: {', '.join(lin['inputs']) or '-'}",
        f"upstream attributes/tags: {', '.join(lin['upstream']) or '-'}",
        f"warehouse columns: {', '.join(lin['columns']) or '-'}",
        f"used by: {', '.join(lin['used_by']) or '-'}",
    ]
    if warehouse is not None and (warehouse / "tags" / "runs.sqlite").is_file():
        from tagcloud.tags.runs import RunLog

        log = RunLog(warehouse / "tags" / "runs.sqlite")
        hist = log.column_history(item.id, limit=5)
        log.close()
        if hist:
            lines.append("coverage in recent builds:")
            for h in hist:
                drift = f"  drift {h['drift']:+.1%}" if h["drift"] is not None else ""
                flag = "  ⚠ large drift" if h["flagged"] else ""
                lines.append(
                    f"  {h['build_id']}  {h['period']:<10} {h['engine']:<6} {h['coverage']:.2%} of {h['rows']:,}{drift}{flag}"
                )
    return "\n".join(lines)


def catalogue_markdown(cat: Catalogue) -> str:
    """The catalogue page: every category with its tags, each with kind, rule and 口径."""
    out = [
        "# Tag catalogue",
        "",
        "Generated from `src/tagcloud/tags/definitions/` by `tagcloud tags docs`; do not edit by hand.",
        "",
        f"{len(cat.tags)} tags and {len(cat.attributes)} attributes in {len(cat.categories)} categories "
        f"over {len(ASPECTS)} aspects; {len(cat.scenarios)} operating scenarios.",
        "",
    ]
    for aspect, (zh, en) in ASPECTS.items():
        cats = [c for c in cat.categories.values() if c.aspect == aspect]
        n = sum(1 for t in cat.tags.values() if cat.categories[t.category].aspect == aspect)
        out += [f"## {zh} — {en} ({n} tags)", ""]
        for c in cats:
            tags = [t for t in cat.tags.values() if t.category == c.id]
            attrs = [a for a in cat.attributes.values() if a.category == c.id]
            out += [f"### {c.name_zh} — {c.name_en} (`{c.id}`)", ""]
            if tags:
                out += ["| tag | 名称 | kind | rule | 口径 |", "|---|---|---|---|---|"]
                for t in tags:
                    if t.model:
                        rule = f"model `{t.model}.{t.column}`"
                    elif t.kind == TagKind.FLAG:
                        rule = f"`{t.rule}`"
                    elif t.kind == TagKind.ENUM:
                        rule = "<br>".join(f"`{v.value}`: `{v.rule}`" for v in t.values)
                    else:
                        rule = f"`{t.of}` → " + ", ".join(
                            f"{v.value} (<{v.upper:g})" if v.upper is not None else v.value for v in t.values
                        )
                    out.append(
                        f"| `{t.id}` | {t.name_zh} | {t.kind.value} | {_cell(rule)} | "
                        f"{_cell(t.definition_zh)}<br>{_cell(t.definition_en)} |"
                    )
                out.append("")
            if attrs:
                out.append("Attributes: " + ", ".join(f"`{a.id}` {a.name_zh}" for a in attrs) + ".")
                out.append("")
    out += [
        "## Operating scenarios (运营场景)",
        "",
        "| scenario | system | 名称 | task | condition |",
        "|---|---|---|---|---|",
    ]
    for s in cat.scenarios.values():
        out.append(f"| `{s.id}` | {s.system} | {s.name_zh} | {_cell(s.task)} | `{_cell(s.condition)}` |")
    out.append("")
    return "\n".join(out)


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def write_catalogue_doc(
    out: Path | str = Path("docs/tag-catalogue.md"), cat: Catalogue | None = None
) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(catalogue_markdown(cat or load_catalogue()), encoding="utf-8")
    return out
