"""Governed changes of tags (标签管控): a new rule, 口径, names or status becomes a new version.

Every change is checked by the same compilation as the definitions files (bad SQL, unknown names
with the closest match, wrong types, cycles, offline inputs) before it is kept. Changes made after
the package's definitions were written live in the warehouse as **overrides**:
``WAREHOUSE/tags/overrides/<tag id>.yaml``, one file per changed tag, holding the tag's whole
entry in the definitions' own form (history included). :func:`load_effective_catalogue` reads the
package definitions, then the overrides over them; ``tagcloud build`` uses that effective catalogue.
An override applies only while its version is newer than the package's entry, so a definition
exported and committed back into the package supersedes its override instead of being shadowed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tagcloud.tags.catalogue import (
    Catalogue,
    CatalogueError,
    Status,
    Tag,
    TagKind,
    Version,
    _tag,
    compile_catalogue,
    read_catalogue,
    tag_document,
)

# The allowed moves of the life cycle (draft → review → online → offline), each with why it exists.
MOVES: dict[Status, dict[Status, str]] = {
    Status.DRAFT: {
        Status.REVIEW: "submitted: rule and 口径 written, the owner asks for review",
    },
    Status.REVIEW: {
        Status.ONLINE: "approved: published to marketers and built every run",
        Status.DRAFT: "returned to the owner for rework",
    },
    Status.ONLINE: {
        Status.OFFLINE: "retired: no longer built nor offered; kept for history",
        Status.REVIEW: "taken back for review (e.g. a doubtful coverage) before it stays online",
    },
    Status.OFFLINE: {
        Status.REVIEW: "revived: reviewed again before it may go back online",
    },
}


class TransitionError(CatalogueError):
    """A status move the life cycle does not allow; names the allowed ones."""


@dataclass(frozen=True)
class TagChange:
    """What a governed change sets (None: keep). ``comment`` and ``by`` go into the history."""

    rule: str | None = None
    definition_zh: str | None = None
    definition_en: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    status: Status | str | None = None
    comment: str = ""
    by: str = ""


def overrides_dir(warehouse: Path | str) -> Path:
    """Where approved versions of a warehouse live (``WAREHOUSE/tags/overrides``)."""
    return Path(warehouse) / "tags" / "overrides"


def check_move(tag: str, old: Status, new: Status) -> str:
    """The comment of the move ``old → new``; TransitionError naming the allowed moves if illegal."""
    allowed = MOVES.get(old, {})
    if new not in allowed:
        moves = ", ".join(f"{old.value} → {s.value}" for s in allowed) or "none"
        raise TransitionError(f"tag {tag!r}: {old.value} → {new.value} is not allowed (allowed: {moves})")
    return allowed[new]


def _status(value: Status | str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise CatalogueError(
            f"unknown status {value!r}: one of {', '.join(s.value for s in Status)}"
        ) from None


def _find(cat: Catalogue, tag_id: str) -> Tag:
    t = cat.tags.get(tag_id)
    if t is None:
        what = "an attribute, not a tag" if tag_id in cat.attributes else "not in the catalogue"
        close = difflib.get_close_matches(tag_id, list(cat.tags), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CatalogueError(f"tag {tag_id!r}: {what}{hint}")
    return t


def _with(cat: Catalogue, tags: Mapping[str, Tag]) -> Catalogue:
    """A copy of ``cat`` (uncompiled) with ``tags`` replacing entries of the same id."""
    new_tags = dict(cat.tags)
    new_tags.update(tags)
    return Catalogue(
        categories=cat.categories,
        lists=cat.lists,
        sources=cat.sources,
        attributes=cat.attributes,
        tags=new_tags,
        scenarios=cat.scenarios,
        groups=cat.groups,
    )


def apply_change(
    cat: Catalogue,
    tag_id: str,
    change: TagChange,
    *,
    today: dt.date | None = None,
    reviewed: bool = False,
) -> tuple[Catalogue, Tag]:
    """Apply ``change`` to tag ``tag_id`` as a new version; return the recompiled catalogue and the tag.

    ``reviewed``: the change passed a review, so a status move may go through ``review`` on its way
    (offline → review → online). ``cat`` is left as it was. Raises CatalogueError with the checker's message when the result
    does not compile, TransitionError for a status move the life cycle forbids.
    """
    t = _find(cat, tag_id)
    fields: dict[str, Any] = {}
    notes: list[str] = []
    if change.rule is not None and change.rule.strip() != (t.rule or ""):
        if t.kind != TagKind.FLAG or t.model is not None:
            raise CatalogueError(
                f"tag {tag_id!r} is {'a model output' if t.model else f'an {t.kind.value} tag'}: "
                "only a flag tag has one rule (change its values in the definitions)"
            )
        fields["rule"] = change.rule.strip()
        notes.append(f"rule: {fields['rule']}")
    for key, label in (
        ("definition_zh", "口径"),
        ("definition_en", "口径 (en)"),
        ("name_zh", "名称"),
        ("name_en", "name"),
    ):
        value = getattr(change, key)
        if value is not None and value.strip() and value.strip() != getattr(t, key):
            fields[key] = value.strip()
            notes.append(f"{label}: {fields[key]}")
    if change.status is not None:
        new = _status(change.status)
        if new != t.status:
            if reviewed and t.status not in (Status.REVIEW, new):
                check_move(tag_id, t.status, Status.REVIEW)
                check_move(tag_id, Status.REVIEW, new)
            else:
                check_move(tag_id, t.status, new)
            fields["status"] = new
            notes.append(f"status {t.status.value} → {new.value}")
    if not fields:
        raise CatalogueError(f"tag {tag_id!r}: the change changes nothing")
    text = "; ".join(notes) + (f" — {change.comment.strip()}" if change.comment.strip() else "")
    version = Version(t.version + 1, (today or dt.date.today()).isoformat(), text, change.by)
    new_tag = dataclasses.replace(t, **fields, history=(*t.history, version))
    new_cat = _with(cat, {tag_id: new_tag})
    compile_catalogue(new_cat)  # the same checks as the definitions files
    return new_cat, new_tag


def approve(
    cat: Catalogue, tag_id: str, change: TagChange, *, today: dt.date | None = None
) -> tuple[Catalogue, Tag]:
    """An approved proposal: the change goes online as a new version. The approval is the review
    step, so the tag's status must allow ``→ review → online`` (or it is online already)."""
    return apply_change(
        cat, tag_id, dataclasses.replace(change, status=Status.ONLINE), today=today, reviewed=True
    )


def write_override(warehouse: Path | str, tag: Tag) -> Path:
    """Write ``tag``'s whole entry to the warehouse's overrides (atomically: a build reading the
    folder never sees half a file)."""
    folder = overrides_dir(warehouse)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{tag.id}.yaml"
    text = yaml.safe_dump({"tags": [tag_document(tag)]}, allow_unicode=True, sort_keys=False, width=110)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def read_overrides(warehouse: Path | str) -> dict[str, Tag]:
    """The approved versions kept in a warehouse, by tag id (none when the folder is absent)."""
    out: dict[str, Tag] = {}
    for f in sorted(overrides_dir(warehouse).glob("*.yaml")):
        try:
            doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise CatalogueError(f"override {f}: not valid YAML: {e}") from None
        entries = doc.get("tags") if isinstance(doc, Mapping) else None
        if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], Mapping):
            raise CatalogueError(f"override {f}: must hold 'tags:' with exactly one tag entry")
        t = _tag(entries[0], f"overrides/{f.name}")
        if t.id != f.stem:
            raise CatalogueError(f"override {f}: holds tag {t.id!r}, the file name says {f.stem!r}")
        out[t.id] = t
    return out


def overlay(cat: Catalogue, overrides: Mapping[str, Tag]) -> list[str]:
    """Put the overrides newer than the package's entries into ``cat`` (uncompiled); return their ids."""
    applied = []
    for tid, t in overrides.items():
        base = cat.tags.get(tid)
        if base is None:
            close = difflib.get_close_matches(tid, list(cat.tags), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise CatalogueError(f"{t.file}: overrides tag {tid!r}, which the definitions lack{hint}")
        if t.version > base.version:
            cat.tags[tid] = t
            applied.append(tid)
    return applied


def load_effective_catalogue(
    warehouse: Path | str | None, definitions: Path | str | None = None
) -> Catalogue:
    """The package definitions (or ``definitions``) with the warehouse's approved versions over them,
    compiled. ``warehouse=None``: the definitions alone."""
    cat = read_catalogue(definitions)
    if warehouse is not None:
        overlay(cat, read_overrides(warehouse))
    compile_catalogue(cat)
    return cat


def change_tag(
    warehouse: Path | str,
    tag_id: str,
    change: TagChange,
    *,
    definitions: Path | str | None = None,
    approved: bool = False,
    today: dt.date | None = None,
) -> Tag:
    """Apply a governed change to the warehouse's effective catalogue and keep it as an override;
    ``approved=True``: an approved proposal, going online. Returns the new version of the tag."""
    cat = load_effective_catalogue(warehouse, definitions)
    fn = approve if approved else apply_change
    _, tag = fn(cat, tag_id, change, today=today)
    write_override(warehouse, tag)
    return tag


def history(cat: Catalogue, tag_id: str) -> tuple[Version, ...]:
    """A tag's versions, oldest first."""
    return _find(cat, tag_id).history
