"""Load a seed file of quick points into the wiki: each checked like a page save (the condition
against the index, products against the catalogue), the ``verified`` ones verified and published
as knowledge tags with one re-index at the end. Idempotent: a title already in the wiki is kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from tagcloud.knowledge.points import PointError
from tagcloud.knowledge.seed import read_seed
from tagcloud.web.accounts.scope import EVERYTHING
from tagcloud.web.knowledge import service
from tagcloud.web.knowledge.models import PointStatus, QuickPoint

SEED_USER = "knowledge_seed"


@dataclass
class SeedLoad:
    created: int = 0
    kept: int = 0
    verified: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # title → why
    published: int = 0


def load_seed(warehouse: Path, path: Path | str | None = None, reindex: bool = True) -> SeedLoad:
    from django.contrib.auth.models import User

    author, _ = User.objects.get_or_create(username=SEED_USER, defaults={"first_name": "营销快点吧"})
    out = SeedLoad()
    for entry in read_seed(path):
        title = str(entry["title"])
        if QuickPoint.objects.filter(title=title).exists():
            out.kept += 1
            continue
        data: dict[str, Any] = {
            k: entry.get(k)
            for k in (
                "title",
                "condition",
                "knowledge",
                "knowledge_en",
                "dimension",
                "description",
                "region_id",
            )
        }
        data["products"] = list(entry["products"])
        try:
            checked = service.check_form(data, EVERYTHING)
        except PointError as e:
            out.skipped[title] = str(e).split("\n")[0]
            continue
        point = service.create_point(checked, author)
        out.created += 1
        if entry.get("verified"):
            QuickPoint.objects.filter(pk=point.pk).update(
                status=PointStatus.VERIFIED,
                verified_version=1,
                verified_by=SEED_USER,
                verified_at=timezone.now(),
            )
            out.verified += 1
    out.published = service.publish(warehouse, reindex=reindex)
    return out
