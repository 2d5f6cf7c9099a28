"""营销快点吧 pages: the wiki home (search, newest, best rated, most used, followed), a point's page
(content, live count, versions and diffs, ratings, comments, follow, verify, the campaigns that used
it), the editor (live count through the audience builder's count fragment), the group's long-tail
product table with extraction and a campaign prefilled from it, and the customer view (slide 29).

Every page needs ``edit_knowledge`` (verify: ``verify_knowledge``); a point outside the user's
region is a 404 (no probing); counts go through the user's scoped engine."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tagcloud.knowledge.points import DIMENSION_NAMES, STRATEGY_NAMES, Dimension, PointError, Strategy
from tagcloud.web.engine import NoIndex, base_engine, engine_for
from tagcloud.web.knowledge import service
from tagcloud.web.knowledge.models import PointStatus, PointVersion, QuickPoint
from tagcloud.web.views.access import require, scope


def _en() -> bool:
    return (get_language() or "").startswith("en")


def _visible(request: HttpRequest) -> QuerySet[QuickPoint]:
    return service.visible(scope(request))


LIST_FIELDS = (
    "id",
    "title",
    "knowledge",
    "status",
    "region_id",
    "rating_sum",
    "rating_count",
    "uses",
    "created_at",
    "updated_at",
)


def _point(request: HttpRequest, pk: int) -> QuickPoint:
    p = _visible(request).select_related("author", "region").filter(pk=pk).first()
    if p is None:
        raise Http404(f"no quick point {pk}")
    return p


def _choices() -> dict[str, Any]:
    en = _en()
    from tagcloud.web.reference.models import Product

    return {
        "dimensions": [(d.value, DIMENSION_NAMES[d][1 if en else 0]) for d in Dimension],
        "strategies": [(s.value, STRATEGY_NAMES[s][1 if en else 0]) for s in Strategy],
        "catalogue": list(
            Product.objects.order_by("product_id").values_list("product_id", "name", "name_en")
        ),
    }


def _regions(request: HttpRequest) -> list[tuple[str, str]]:
    """Regions a point may be scoped to: the user's own region and those under it (city, county)."""
    from tagcloud.web.reference.models import Region

    sc = scope(request)
    qs = Region.objects.filter(level__in=("city", "county")).order_by("region_id")
    if not sc.everything:
        qs = qs.filter(region_id__in=sc.region_ids)
    return [(r.region_id, (r.name_en or r.name) if _en() else r.name) for r in qs]


def _labels(point: QuickPoint) -> dict[str, str]:
    en = _en()
    d = DIMENSION_NAMES.get(Dimension(point.dimension)) if point.dimension in set(Dimension) else None
    return {"dimension": (d[1 if en else 0] if d else point.dimension)}


def _products_view(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from tagcloud.web.reference.models import Product

    names = {p: (n, e) for p, n, e in Product.objects.values_list("product_id", "name", "name_en")}
    en = _en()
    out = []
    for p in products:
        n = names.get(p["product_id"])
        s = STRATEGY_NAMES.get(Strategy(p["strategy"])) if p["strategy"] in set(Strategy) else None
        out.append(
            p
            | {
                "name": ((n[1] or n[0]) if en else n[0]) if n else p["product_id"],
                "strategy_label": s[1 if en else 0] if s else p["strategy"],
            }
        )
    return out


@require("edit_knowledge")
def home(request: HttpRequest) -> HttpResponse:
    """Search by word, tag or product; newest, best rated, most used; the points I follow."""
    qs = _visible(request).only(*LIST_FIELDS)  # lists need no conditions, texts or products
    q = request.GET.get("q", "").strip()[:200]
    tag = request.GET.get("tag", "").strip()[:64]
    product = request.GET.get("product", "").strip()[:32]
    results = None
    if q or tag or product:
        found = service.search(qs, q) if q else qs
        if tag:
            found = service.by_tag(found, tag)
        if product:
            found = service.by_product(found, product)
        results = list(found.order_by("-updated_at")[:50])
    return render(
        request,
        "knowledge/home.html",
        {
            "q": q,
            "tag": tag,
            "product": product,
            "results": results,
            "newest": service.newest(qs),
            "best": service.best_rated(qs),
            "used": service.most_used(qs),
            "followed": list(qs.filter(follows__user=request.user).order_by("-updated_at")[:10]),
            "verified_count": qs.filter(status=PointStatus.VERIFIED).count(),
            "total": qs.count(),
            **_choices(),
        },
    )


def _form_context(request: HttpRequest, data: Any, **kw: Any) -> dict[str, Any]:
    products = service._product_rows(data) if data is not None else []
    while len(products) < 3:
        products.append({"product_id": "", "reason": "", "strategy": ""})
    return {"form": data or {}, "product_rows": products, "regions": _regions(request), **_choices(), **kw}


@require("edit_knowledge", "build_audience")
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    """Write a quick point: the behaviour's live count comes from the audience builder's fragment."""
    if request.method == "POST":
        try:
            checked = service.check_form(request.POST, scope(request))
            point = service.create_point(checked, request.user)
        except NoIndex as e:
            return render(
                request, "knowledge/edit.html", _form_context(request, request.POST, error=str(e)), status=503
            )
        except PointError as e:
            ctx = _form_context(
                request, request.POST, error=e.message, error_field=e.field, suggestion=e.suggestion
            )
            return render(request, "knowledge/edit.html", ctx, status=422)
        messages.success(request, _("快点已保存"))
        return redirect("knowledge-point", pk=point.pk)
    return render(request, "knowledge/edit.html", _form_context(request, None))


@require("edit_knowledge", "build_audience")
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a point; the form carries the version it started from, and a save over a newer version
    is refused with the diff (nothing overwritten)."""
    point = _point(request, pk)
    if request.method == "POST":
        try:
            base = int(request.POST.get("base_version", "0"))
        except ValueError:
            base = 0
        try:
            checked = service.check_form(request.POST, scope(request))
            service.edit_point(point.pk, base, checked, request.user, request.POST.get("note", ""))
        except service.EditConflict as e:
            ctx = _form_context(request, request.POST, point=point, conflict=e, base_version=base)
            return render(request, "knowledge/edit.html", ctx, status=409)
        except PointVersion.DoesNotExist:
            raise Http404("no such version") from None
        except NoIndex as e:
            ctx = _form_context(request, request.POST, point=point, error=str(e), base_version=base)
            return render(request, "knowledge/edit.html", ctx, status=503)
        except PointError as e:
            ctx = _form_context(
                request,
                request.POST,
                point=point,
                error=e.message,
                error_field=e.field,
                suggestion=e.suggestion,
                base_version=base,
            )
            return render(request, "knowledge/edit.html", ctx, status=422)
        messages.success(request, _("已保存为新版本"))
        return redirect("knowledge-point", pk=point.pk)
    data = point.content()
    data["region_id"] = data["region_id"] or ""
    return render(
        request, "knowledge/edit.html", _form_context(request, data, point=point, base_version=point.version)
    )


def _count(request: HttpRequest, condition: str) -> int | None:
    try:
        return engine_for(request).count(condition)
    except Exception:  # no index, or a condition stale against this build: shown as unknown
        return None


@require("edit_knowledge")
def point_page(request: HttpRequest, pk: int) -> HttpResponse:
    point = _point(request, pk)
    versions = list(point.versions.order_by("-version"))
    mine = point.ratings.filter(user=request.user).first()
    tag_count = None
    if point.status == PointStatus.VERIFIED:
        try:
            eng = engine_for(request)
            if point.tag_id in eng.index.columns:
                tag_count = eng.count(point.tag_id)
        except NoIndex:
            pass
    return render(
        request,
        "knowledge/point.html",
        {
            "point": point,
            "labels": _labels(point),
            "products": _products_view(point.products),
            "versions": versions,
            "comments": list(point.comments.all()),
            "my_rating": mine.stars if mine else None,
            "following": point.follows.filter(user=request.user).exists(),
            "count": _count(request, point.condition),
            "tag_count": tag_count,
            "uses": _uses(point),
            "may_verify": request.user.has_perm("accounts.verify_knowledge"),
        },
    )


def _uses(point: QuickPoint) -> list[dict[str, Any]]:
    """Campaigns that used the point, with their measured acceptance vs control (the loop back)."""
    from tagcloud.web.knowledge.loop import campaign_results

    return campaign_results(list(point.used_by.all()))


@require("edit_knowledge")
def diff(request: HttpRequest, pk: int) -> HttpResponse:
    point = _point(request, pk)
    try:
        a = int(request.GET.get("a", point.version - 1))
        b = int(request.GET.get("b", point.version))
        lines = service.version_diff(point, a, b)
    except (ValueError, PointVersion.DoesNotExist):
        raise Http404("no such version") from None
    return render(request, "knowledge/diff.html", {"point": point, "a": a, "b": b, "lines": lines})


@require("edit_knowledge")
@require_POST
def revert(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    point = _point(request, pk)
    try:
        service.revert_point(point.pk, version, int(request.POST.get("base_version", "0")), request.user)
    except PointVersion.DoesNotExist:
        raise Http404("no such version") from None
    except service.EditConflict as e:
        messages.error(request, str(e))
    except (PointError, NoIndex, ValueError) as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("已恢复为新版本"))
    return redirect("knowledge-point", pk=point.pk)


@require("edit_knowledge")
@require_POST
def rate(request: HttpRequest, pk: int) -> HttpResponse:
    point = _point(request, pk)
    try:
        service.rate(point, request.user, int(request.POST.get("stars", "0")))
    except (ValueError, PointError):
        messages.error(request, _("评分为 1 到 5 星"))
    return redirect("knowledge-point", pk=point.pk)


@require("edit_knowledge")
@require_POST
def comment(request: HttpRequest, pk: int) -> HttpResponse:
    point = _point(request, pk)
    try:
        service.comment(point, request.user, request.POST.get("text", ""))
    except PointError as e:
        messages.error(request, e.message)
    return redirect("knowledge-point", pk=point.pk)


@require("edit_knowledge")
@require_POST
def follow(request: HttpRequest, pk: int) -> HttpResponse:
    service.toggle_follow(_point(request, pk), request.user)
    return redirect("knowledge-point", pk=pk)


@require("verify_knowledge")
@require_POST
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    """Promote the point to verified: published as knowledge tag ``kp_<id>`` and re-indexed."""
    from tagcloud.web.warehouse import warehouse_dir

    point = _point(request, pk)
    try:
        service.verify(point, request.user, warehouse_dir())
    except (PointError, NoIndex) as e:
        messages.error(request, str(e))
    else:
        messages.success(request, _("已审定, 已发布为知识标签 %(tag)s") % {"tag": point.tag_id})
    return redirect("knowledge-point", pk=point.pk)


@require("edit_knowledge", "build_audience")
def products(request: HttpRequest, pk: int) -> HttpResponse:
    """The long tail of the point's group: every product's penetration vs the province, by lift."""
    from tagcloud.knowledge.longtail import long_tail

    point = _point(request, pk)
    try:
        eng = engine_for(request)
        target = point.tag_id if point.tag_id in eng.index.columns else point.condition
        lt = long_tail(eng, base_engine(), target)
    except NoIndex as e:
        return render(request, "knowledge/products.html", {"point": point, "error": str(e)}, status=503)
    except ValueError as e:
        return render(request, "knowledge/products.html", {"point": point, "error": str(e)}, status=422)
    first = point.products[0]["product_id"] if point.products else ""
    campaign = urlencode(
        {
            "condition": target,
            "name": f"{point.knowledge} · {point.title}"[:100],
            "campaign_id": f"KP{point.pk}-{point.version}",
            "offer_high": first,
            "offer_rest": first,
            "tier_attribute": "arpu_3m" if "arpu_3m" in eng.index.columns else "",
            "knowledge_point": point.pk,
        }
    )
    return render(
        request,
        "knowledge/products.html",
        {
            "point": point,
            "lt": lt,
            "en": _en(),
            "target": target,
            "campaign_url": reverse("knowledge-campaign", args=[point.pk]) + "?" + campaign,
        },
    )


@require("edit_knowledge", "export_audience")
@require_POST
def extract(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the group's list through the audience builder's export (masked unless the role may
    unmask and asks; audited there); the point counts one use."""
    from tagcloud.web.views.audience import export

    point = _point(request, pk)
    service.record_use(point, "extract", "", request.user)
    return export(request)


@require("edit_knowledge", "design_campaign")
def start_campaign(request: HttpRequest, pk: int) -> HttpResponse:
    """Record that a campaign is designed from the point, then open the campaign design page
    prefilled with the group (the design page saves it through the campaign workflow)."""
    point = _point(request, pk)
    cid = request.GET.get("campaign_id", "")[:60]
    service.record_use(point, "campaign", cid, request.user)
    return redirect(reverse("campaigns") + "?" + request.GET.urlencode())


@require("edit_knowledge", "lookup_customer")
@require_http_methods(["GET", "POST"])
def customer(request: HttpRequest) -> HttpResponse:
    """Type a number → basic data, the knowledge labels it carries, behaviour, recommended products
    (seed slide 29). The lookup is the customer 360's (scoped, masked, audited)."""
    from tagcloud.web.views.customer import behaviour, lookup_in_scope, sections

    msisdn = request.POST.get("msisdn", "").strip()
    ctx: dict[str, Any] = {"msisdn": msisdn}
    status = 200
    if msisdn:
        try:
            found = lookup_in_scope(request, msisdn, False)
        except NoIndex as e:
            ctx["error"], status = str(e), 503
        except ValueError as e:
            ctx["error"], status = str(e), 400
        except (KeyError, LookupError, PermissionDenied):
            from tagcloud.web.accounts.masking import mask_msisdn

            ctx["error"], status = f"{mask_msisdn(msisdn)}: " + _("不在您的区域内或不是本网用户"), 404
        else:
            row, columns = found["row"], found["columns"]
            held = [n for n, c in columns.items() if c.get("category") == "knowledge" and row.get(n) is True]
            pks = [int(n[3:]) for n in held]
            points = list(_visible(request).filter(pk__in=pks))
            ctx["row"] = row
            ctx["basic"], ctx["categories"] = sections(
                row, {n: c for n, c in columns.items() if c.get("category") != "knowledge"}
            )
            ctx["knowledge"] = [{"point": p, "products": _products_view(p.products)} for p in points]
            from tagcloud.audience.dictionary import parse_number

            ctx.update(behaviour(str(int(parse_number(msisdn))), False))
    return render(request, "knowledge/customer.html", ctx, status=status)
