"""The wiki's operations over the stored points: create, edit (optimistic version check), revert,
rate, comment, follow, verify (publish as a knowledge tag), visibility by region, search.

Views call these; every check of a point's content is ``tagcloud.knowledge.points`` and every
condition is checked by the one condition language against the audience index's names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from tagcloud.knowledge.points import (
    MAX_TEXT,
    PointError,
    check_condition,
    check_dimension,
    check_recommendations,
    diff_versions,
)
from tagcloud.web.accounts.scope import RegionScope
from tagcloud.web.knowledge.models import (
    CONTENT_FIELDS,
    Comment,
    Follow,
    PointStatus,
    PointUse,
    PointVersion,
    QuickPoint,
    Rating,
)


class EditConflict(Exception):
    """Someone saved the point since the editor opened it: nothing was written. ``diff`` is what
    changed between the version the editor started from and the current one; ``mine`` the diff
    between the current version and what the editor tried to save."""

    def __init__(self, base: int, current: int, diff: list[str], mine: list[str]) -> None:
        self.base, self.current, self.diff, self.mine = base, current, diff, mine
        super().__init__(f"the point was changed to version {current} since you opened version {base}")


@dataclass(frozen=True)
class Checked:
    """A form's content after every check: ready to be saved as a version."""

    fields: dict[str, Any]
    reads: tuple[str, ...]


def names_for_points() -> dict[str, Any]:
    """What a point's condition may name: the index's attributes and tags, not region columns
    (the scope field says where a point applies) nor other knowledge tags (a point stands alone)."""
    from tagcloud.audience.index import REGION_COLUMNS
    from tagcloud.web.engine import base_engine

    eng = base_engine()
    return {
        n: info
        for n, info in eng.names(with_groups=False).items()
        if n not in REGION_COLUMNS and eng.index.columns.get(n, {}).get("category") != "knowledge"
    }


def products_catalogue() -> dict[str, str]:
    from tagcloud.web.reference.models import Product

    return dict(Product.objects.values_list("product_id", "name"))


def check_form(data: Mapping[str, Any], sc: RegionScope) -> Checked:
    """The posted fields of a point checked: title, condition (against the index's names),
    knowledge and dimension, products (against the catalogue), scope (inside the user's reach)."""
    title = str(data.get("title") or "").strip()
    if not title:
        raise PointError("title", "give the point a title")
    knowledge = str(data.get("knowledge") or "").strip()
    if not knowledge:
        raise PointError("knowledge", "name the knowledge the behaviour stands for (e.g. 有车一族)")
    condition = str(data.get("condition") or data.get("cond") or "").strip()  # cond: the live count's field
    cond = check_condition(condition, names_for_points())
    region_id = str(data.get("region_id") or "").strip() or None
    if region_id is not None:
        from tagcloud.web.reference.models import Region

        region = Region.objects.filter(region_id=region_id).first()
        if region is None or region.level == "province":
            region_id = None if region is not None else region_id
        if region_id is not None and (region is None or not sc.allows(region_id)):
            raise PointError("scope", f"{region_id!r} is not a region in your reach")
    fields = {
        "title": title[:200],
        "condition": condition,
        "knowledge": knowledge[:200],
        "knowledge_en": str(data.get("knowledge_en") or "").strip()[:200],
        "dimension": check_dimension(str(data.get("dimension") or "")).value,
        "description": str(data.get("description") or "").strip()[:MAX_TEXT],
        "products": [r.as_dict() for r in check_recommendations(_product_rows(data), products_catalogue())],
        "region_id": region_id,
    }
    return Checked(fields, tuple(sorted(cond.names)))


def _product_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Products from a form (``product_id``/``reason``/``strategy`` lists) or a dict's list."""
    if isinstance(data.get("products"), list):
        return list(data["products"])
    getlist = getattr(data, "getlist", None)
    if getlist is None:
        return []
    ids, reasons, strategies = getlist("product_id"), getlist("reason"), getlist("strategy")
    return [
        {"product_id": p, "reason": r, "strategy": s}
        for p, r, s in zip(ids, reasons, strategies, strict=False)
    ]


def _search_text(fields: Mapping[str, Any]) -> str:
    names = products_catalogue()
    parts = [
        fields["title"],
        fields["knowledge"],
        fields.get("knowledge_en", ""),
        fields.get("description", ""),
    ]
    parts.append(fields["condition"])
    for p in fields["products"]:
        parts += [p["product_id"], names.get(p["product_id"], ""), p["reason"]]
    return "\n".join(str(x) for x in parts if x)


def _apply(point: QuickPoint, fields: Mapping[str, Any]) -> None:
    for f in CONTENT_FIELDS:
        setattr(point, f, fields[f])
    point.search_text = _search_text(fields)


def create_point(checked: Checked, user: Any) -> QuickPoint:
    with transaction.atomic():
        point = QuickPoint(author=user, version=1)
        _apply(point, checked.fields)
        point.save()
        PointVersion.objects.create(point=point, version=1, edited_by=user.get_username(), **checked.fields)
        index_search(point)
    return point


def edit_point(point_pk: int, base_version: int, checked: Checked, user: Any, note: str = "") -> QuickPoint:
    """Save an edit made on ``base_version``. The row is locked and its version compared: if
    anyone saved since, EditConflict (with both diffs) and nothing is written."""
    with transaction.atomic():
        point = QuickPoint.objects.select_for_update().get(pk=point_pk)
        if point.version != base_version:
            base = PointVersion.objects.get(point=point, version=base_version).content()
            raise EditConflict(
                base_version,
                point.version,
                diff_versions(base, point.content(), f"v{base_version}", f"v{point.version}"),
                diff_versions(point.content(), checked.fields, f"v{point.version}", "yours"),
            )
        if all(point.content()[f] == checked.fields[f] for f in CONTENT_FIELDS):
            raise PointError("edit", "the edit changes nothing")
        point.version += 1
        _apply(point, checked.fields)
        point.save()
        PointVersion.objects.create(
            point=point,
            version=point.version,
            edited_by=user.get_username(),
            note=note[:300],
            **checked.fields,
        )
        index_search(point)
    return point


def revert_point(point_pk: int, to_version: int, base_version: int, user: Any) -> QuickPoint:
    """A new version with the content of ``to_version`` (history is never rewritten). The content is
    checked again: a condition over a column that is gone cannot come back."""
    old = PointVersion.objects.get(point_id=point_pk, version=to_version)
    content = old.content()
    cond = check_condition(content["condition"], names_for_points())
    return edit_point(
        point_pk,
        base_version,
        Checked(content, tuple(sorted(cond.names))),
        user,
        note=f"revert to v{to_version}",
    )


def version_diff(point: QuickPoint, a: int, b: int) -> list[str]:
    va = PointVersion.objects.get(point=point, version=a).content()
    vb = PointVersion.objects.get(point=point, version=b).content()
    return diff_versions(va, vb, f"v{a}", f"v{b}")


def rate(point: QuickPoint, user: Any, stars: int) -> None:
    if not 1 <= stars <= 5:
        raise PointError("rating", "1 to 5 stars")
    with transaction.atomic():
        Rating.objects.update_or_create(point=point, user=user, defaults={"stars": stars})
        agg = Rating.objects.filter(point=point).values_list("stars", flat=True)
        QuickPoint.objects.filter(pk=point.pk).update(
            rating_sum=sum(agg), rating_count=len(agg), rating_avg=sum(agg) / len(agg)
        )


def comment(point: QuickPoint, user: Any, text: str) -> Comment:
    text = text.strip()
    if not text:
        raise PointError("comment", "write something")
    return Comment.objects.create(point=point, user=user, username=user.get_username(), text=text[:MAX_TEXT])


def toggle_follow(point: QuickPoint, user: Any) -> bool:
    """Follow (or stop following) a point; True when the user now follows it. Followed points are
    listed on the user's wiki home, the most recently changed first."""
    gone, _ = Follow.objects.filter(point=point, user=user).delete()
    if gone:
        return False
    Follow.objects.create(point=point, user=user)
    return True


def record_use(point: QuickPoint, kind: str, ref: str, user: Any) -> None:
    PointUse.objects.create(point=point, kind=kind, ref=ref[:100], username=user.get_username())
    QuickPoint.objects.filter(pk=point.pk).update(uses=F("uses") + 1)


# -- region visibility


def visible_region_ids(sc: RegionScope) -> frozenset[str] | None:
    """Regions whose points the user sees (None: all): their own region, everything under it and
    the regions above it (a city's point is its counties' too); province-wide points always."""
    if sc.everything:
        return None
    from tagcloud.web.reference.models import Region

    above: set[str] = set()
    parent_of = dict(Region.objects.values_list("region_id", "parent_id"))
    r = parent_of.get(sc.root) if sc.root else None
    while r is not None and r not in above:
        above.add(r)
        r = parent_of.get(r)
    return frozenset(sc.region_ids | above)


def visible(sc: RegionScope) -> QuerySet[QuickPoint]:
    ids = visible_region_ids(sc)
    qs = QuickPoint.objects.all()
    return qs if ids is None else qs.filter(Q(region__isnull=True) | Q(region_id__in=ids))


# -- verification and publishing


def verify(point: QuickPoint, editor: Any, warehouse: Path) -> QuickPoint:
    """Promote the point's current version to verified and publish every verified point as a
    knowledge tag (then re-index, so the tag counts at once)."""
    cond = check_condition(point.condition, names_for_points())  # still valid against this build
    del cond
    QuickPoint.objects.filter(pk=point.pk).update(
        status=PointStatus.VERIFIED,
        verified_version=point.version,
        verified_by=editor.get_username(),
        verified_at=timezone.now(),
    )
    publish(warehouse)
    point.refresh_from_db()
    return point


def published_tags() -> list[Any]:
    from tagcloud.knowledge.wiki import published_tag
    from tagcloud.tags.condition import parse_condition
    from tagcloud.web.reference.models import Region

    names = names_for_points()
    levels = dict(Region.objects.values_list("region_id", "level"))
    out = []
    for p in QuickPoint.objects.filter(status=PointStatus.VERIFIED).select_related("author"):
        v = PointVersion.objects.get(point=p, version=p.verified_version)
        fields = v.content()
        try:
            reads = sorted(parse_condition(fields["condition"], names).names)
        except Exception:  # a stale point is published; the index names why it is skipped
            reads = []
        out.append(
            published_tag(
                p.pk,
                fields,
                owner=p.author.get_username() if p.author else "",
                version=v.version,
                reads=reads,
                region_level=levels.get(fields["region_id"] or ""),
            )
        )
    return out


def publish(warehouse: Path, reindex: bool = True) -> int:
    """Write the verified points to ``WAREHOUSE/tags/published.json``; with ``reindex`` rebuild the
    audience index of the current wide table so the tags count now (else at the next index)."""
    import fcntl

    from tagcloud.tags.published import published_path, write_published

    # Two editors verifying at once must not rebuild the index side by side (one `.building`
    # folder): publishing is serialised per warehouse, and each run writes every verified point.
    lock = published_path(warehouse).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        tags = published_tags()
        write_published(warehouse, tags)
        if reindex and (warehouse / "wide" / "current" / "wide.parquet").exists():
            from tagcloud.audience.indexer import build_index
            from tagcloud.web.engine import forget_engine

            build_index(warehouse, quiet=True)
            forget_engine(warehouse)
    return len(tags)


# -- search


def _fts() -> bool:
    """SQLite with FTS5 (trigram tokenizer): the search table exists."""
    return connection.vendor == "sqlite" and _has_table("knowledge_search")


def _has_table(name: str) -> bool:
    with connection.cursor() as cur:
        return name in connection.introspection.table_names(cur, include_views=True)


def index_search(point: QuickPoint) -> None:
    """Keep the search index in step with the point (SQLite FTS5; PostgreSQL reads search_text)."""
    if not _fts():
        return
    with connection.cursor() as cur:
        cur.execute("DELETE FROM knowledge_search WHERE rowid = %s", [point.pk])
        cur.execute(
            "INSERT INTO knowledge_search(rowid, body) VALUES (%s, %s)", [point.pk, point.search_text]
        )


def search(qs: QuerySet[QuickPoint], q: str, use_index: bool = True) -> QuerySet[QuickPoint]:
    """Points whose text holds every word of ``q`` (substrings: Chinese needs no word breaks;
    case-insensitive for Latin letters).

    On SQLite, words of three characters or more are answered by the FTS5 trigram index (a
    phrase query is a substring match there); shorter words (most two-character Chinese words)
    cannot use trigrams and filter ``search_text`` with LIKE, over the index's candidates when
    there are any. Elsewhere, and with ``use_index=False`` (the benchmark's baseline), every word
    is a LIKE/ILIKE scan of ``search_text``."""
    terms = [t for t in q.split() if t][:8]
    if not terms:
        return qs
    short = terms
    if use_index and _fts():
        long = [t for t in terms if len(t) >= 3]
        short = [t for t in terms if len(t) < 3]
        if long:
            match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long)
            table = QuickPoint._meta.db_table
            qs = qs.extra(
                where=[
                    f'"{table}"."id" IN (SELECT rowid FROM knowledge_search WHERE knowledge_search MATCH %s)'
                ],
                params=[match],
            )
    for t in short:
        qs = qs.filter(search_text__icontains=t)
    return qs


def by_product(qs: QuerySet[QuickPoint], product_id: str) -> QuerySet[QuickPoint]:
    """Points recommending ``product_id`` (portable: the JSON is matched as text, then checked)."""
    rows = qs.filter(products__icontains=product_id).values_list("pk", "products")
    return qs.filter(
        pk__in=[pk for pk, products in rows if any(x["product_id"] == product_id for x in products)]
    )


def by_tag(qs: QuerySet[QuickPoint], name: str) -> QuerySet[QuickPoint]:
    """Points whose condition reads the attribute or tag ``name`` (as a whole name)."""
    import re

    pattern = re.compile(rf"(?<![\w]){re.escape(name)}(?![\w])")
    rows = qs.filter(condition__icontains=name).values_list("pk", "condition")
    return qs.filter(pk__in=[pk for pk, cond in rows if pattern.search(cond)])


def newest(qs: QuerySet[QuickPoint], n: int = 10) -> Sequence[QuickPoint]:
    return list(qs.order_by("-created_at", "-pk")[:n])


def best_rated(qs: QuerySet[QuickPoint], n: int = 10) -> Sequence[QuickPoint]:
    return list(qs.filter(rating_avg__isnull=False).order_by("-rating_avg", "-rating_count", "-pk")[:n])


def most_used(qs: QuerySet[QuickPoint], n: int = 10) -> Sequence[QuickPoint]:
    return list(qs.filter(uses__gt=0).order_by("-uses", "-pk")[:n])
