"""Tag governance in the application database: the catalogue's versions loaded as TagVersion rows,
statuses and histories read from them, and approved proposals written back through the tags
module (a new online version kept in ``WAREHOUSE/tags/overrides`` for the next build)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from tagcloud.web.taglib.models import ProposalStatus, TagChangeProposal, TagVersion

if TYPE_CHECKING:
    from tagcloud.tags.catalogue import Catalogue, Tag


_FIELDS = ("status", "name_zh", "name_en", "rule", "definition_zh", "definition_en", "change", "by", "date")


@dataclass(frozen=True)
class LoadCounts:
    """What ``load_tags`` did: tags seen, version rows added and updated, rows kept that the
    catalogue lacks (local versions whose override is gone)."""

    tags: int
    added: int
    updated: int
    local_kept: int


def _rows(t: Tag, origin: str) -> list[TagVersion]:
    from tagcloud.tags.catalogue import tag_document

    doc = tag_document(t)
    out = []
    for i, v in enumerate(t.history):
        latest = i == len(t.history) - 1
        # Only the latest version's content is known (the definitions keep history as notes);
        # earlier versions keep their note, date and author.
        out.append(
            TagVersion(
                tag=t.id,
                version=v.version,
                status=t.status.value if latest else "",
                name_zh=t.name_zh,
                name_en=t.name_en,
                rule=(t.rule or "") if latest else "",
                definition_zh=t.definition_zh if latest else "",
                definition_en=t.definition_en if latest else "",
                change=v.change,
                by=v.by,
                date=v.date,
                origin=origin,
                document=doc if latest else {},
            )
        )
    return out


def load_tags(cat: Catalogue, *, local: frozenset[str] = frozenset()) -> LoadCounts:
    """Upsert every tag's versions into the database (idempotent). Versions approved here and not
    (yet) in ``cat`` are kept; ``local``: tag ids whose latest version is a local approval."""
    existing = {(r.tag, r.version): r for r in TagVersion.objects.all()}
    add: list[TagVersion] = []
    update: list[TagVersion] = []
    fields = [*_FIELDS, "document"]
    seen: set[tuple[str, int]] = set()
    for t in cat.tags.values():
        rows = _rows(t, "local" if t.id in local else "package")
        for row in rows:
            key = (row.tag, row.version)
            seen.add(key)
            old = existing.get(key)
            if old is None:
                add.append(row)
            # Earlier versions keep what was recorded when they were the latest; the latest
            # follows the catalogue (an edited package entry of the same version).
            elif row is rows[-1] and any(getattr(old, f) != getattr(row, f) for f in fields):
                for f in fields:
                    setattr(old, f, getattr(row, f))
                update.append(old)
    with transaction.atomic():
        TagVersion.objects.bulk_create(add, batch_size=500)
        TagVersion.objects.bulk_update(update, fields, batch_size=500)
    kept = sum(1 for k in existing if k not in seen)
    return LoadCounts(len(cat.tags), len(add), len(update), kept)


def load_from_warehouse(warehouse: Path) -> LoadCounts:
    """Load the warehouse's effective catalogue (package definitions + approved overrides)."""
    from tagcloud.tags.governance import load_effective_catalogue, read_overrides

    cat = load_effective_catalogue(warehouse)
    local = frozenset(t for t, o in read_overrides(warehouse).items() if o.version == cat.tags[t].version)
    return load_tags(cat, local=local)


def versions(tag: str) -> list[TagVersion]:
    """A tag's versions, newest first."""
    return list(TagVersion.objects.filter(tag=tag).order_by("-version"))


def check_proposal(tag: str, rule: str, definition_zh: str, definition_en: str) -> None:
    """Dry-run a proposal against the effective catalogue; CatalogueError with the checker's
    message when it would not compile. Tags outside the catalogue are not checked here."""
    from tagcloud.tags.governance import TagChange, apply_change
    from tagcloud.web.taglib import library

    cat = library.catalogue()
    if cat is None or tag not in cat.tags:
        return
    apply_change(
        cat, tag, TagChange(rule=rule or None, definition_zh=definition_zh, definition_en=definition_en)
    )


def approve_proposal(p: TagChangeProposal, reviewer: Any, note: str, warehouse: Path) -> Tag | None:
    """Approve ``p``: a catalogued tag gets a new online version (override written, version row
    recorded, pages' catalogue reloaded); returns it, or None for a tag outside the catalogue.
    Raises CatalogueError (the proposal stays open) when the change no longer checks."""
    from tagcloud.tags.governance import TagChange, change_tag
    from tagcloud.web.taglib import library

    tag: Tag | None = None
    cat = library.catalogue()
    if cat is not None and p.tag in cat.tags:
        change = TagChange(
            rule=p.rule or None,
            definition_zh=p.definition_zh,
            definition_en=p.definition_en,
            comment=f"proposal #{p.pk}: {p.reason}",
            by=getattr(reviewer, "username", ""),
        )
        tag = change_tag(warehouse, p.tag, change, approved=True)
        library.forget()
        row = _rows(tag, "local")[-1]
        TagVersion.objects.update_or_create(
            tag=tag.id,
            version=tag.version,
            defaults={f: getattr(row, f) for f in (*_FIELDS, "origin", "document")},
        )
    p.status = ProposalStatus.APPROVED
    p.reviewer = reviewer
    p.review_note = note
    p.reviewed_at = timezone.now()
    p.save()
    return tag
