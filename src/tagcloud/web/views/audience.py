"""Audience builder (即席查询): conditions from the catalogue or typed, a live count (htmx),
profile charts, save as a group, split by tiers, control group, export, combine saved groups.

Every call goes through :func:`tagcloud.web.engine.engine_for`, which ANDs the user's region
scope into the query; views only parse the form, call the engine and render a fragment."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_POST

from tagcloud.web.accounts.audit import record
from tagcloud.web.accounts.models import AuditAction
from tagcloud.web.audiences.builder import OPERATORS, PickError, combine_rows, condition_from_pick
from tagcloud.web.audiences.models import SavedGroup
from tagcloud.web.engine import NoIndex, base_engine, engine_for
from tagcloud.web.security.exports import ExportTooLarge, check_export, watermark
from tagcloud.web.views.access import require, scope

EXPORT_PAGE = 50_000  # members per page when streaming a CSV export (bounded memory)


def label(meta: dict[str, Any], name: str) -> str:
    """A column's label in the user's language."""
    key = "label_en" if (get_language() or "").startswith("en") else "label_zh"
    return str(meta.get(key) or meta.get("label_zh") or name)


def catalogue(columns: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns grouped by category for the picker (region columns are the scope's, not offered)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, meta in columns.items():
        cat = str(meta.get("category") or "other")
        if cat == "region":
            continue
        values = meta.get("values") or list(meta.get("counts", {}) or [])
        groups.setdefault(cat, []).append(
            {"name": name, "label": label(meta, name), "kind": meta.get("kind"), "values": values}
        )
    from tagcloud.web.taglib.library import category_name

    lang = get_language() or "zh-hans"
    return [{"category": category_name(c, lang), "columns": cols} for c, cols in groups.items()]


def _rows(request: HttpRequest) -> list[str]:
    return [r for r in request.POST.getlist("cond") if r.strip()]


def _check_rows(rows: list[str], names: dict[str, Any]) -> list[dict[str, Any]]:
    """Each row parsed on its own so an error points at the row and token the user typed."""
    from tagcloud.tags.condition import ConditionError, parse_condition

    errors = []
    for i, text in enumerate(rows):
        try:
            parse_condition(text, names)
        except ConditionError as e:
            errors.append(
                {
                    "row": i + 1,
                    "text": text,
                    "message": e.message,
                    "suggestion": e.suggestion,
                    "before": text[: e.start],
                    "bad": text[e.start : e.end],
                    "after": text[e.end :],
                }
            )
    return errors


def _no_index(request: HttpRequest, e: Exception) -> HttpResponse:
    return render(request, "audience/_error.html", {"message": str(e)}, status=503)


@require("build_audience")
@require_GET
def builder(request: HttpRequest) -> HttpResponse:
    """The builder page: catalogue picker, condition rows, live count, actions."""
    try:
        columns = base_engine().index.columns
    except NoIndex as e:
        return render(request, "audience/builder.html", {"no_index": str(e)})
    start = [c for c in request.GET.getlist("cond") if c.strip()]
    groups = scope(request).filter_queryset(SavedGroup.objects.all(), "region_id")[:50]
    numeric = [(n, label(m, n)) for n, m in columns.items() if m.get("kind") in ("number", "enum")]
    examples = _examples(columns)
    return render(
        request,
        "audience/builder.html",
        {
            "catalogue": catalogue(columns),
            # Embedded with json_script in the template (escapes "<", so no value can end the script).
            "catalogue_data": {
                n: {"kind": m.get("kind"), "values": m.get("values") or list(m.get("counts", {}) or [])}
                for n, m in columns.items()
            },
            "operators": OPERATORS,
            "ex": examples,
            "rows": start or [""],
            "groups": groups,
            "split_columns": [c for c in numeric if columns[c[0]].get("category") != "region"],
            "profile_columns": [
                (n, label(m, n))
                for n, m in columns.items()
                if m.get("kind") == "enum" and m.get("category") != "region"
            ],
        },
    )


def _examples(columns: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Names of this build to show in the syntax help (a number, an enum and its values, flags)."""

    def first(kind: str, default: str, skip: tuple[str, ...] = ()) -> str:
        return next(
            (
                n
                for n, m in columns.items()
                if m.get("kind") == kind and m.get("category") != "region" and n not in skip
            ),
            default,
        )

    enum = first("enum", "brand")
    values = [*((columns.get(enum) or {}).get("values") or ["a"]), "b"]
    flag = first("flag", "is_student")
    return {
        "number": first("number", "arpu"),
        "enum": enum,
        "v1": str(values[0]),
        "v2": str(values[1]),
        "flag": flag,
        "flag2": first("flag", "complaint_sensitive", (flag,)),
    }


@require("build_audience")
@require_POST
def add_row(request: HttpRequest) -> HttpResponse:
    """A picked column + operator + value → a new condition row (fragment)."""
    column = request.POST.get("column", "")
    try:
        meta = base_engine().index.columns.get(column)
        text = condition_from_pick(column, meta, request.POST.get("op", ""), request.POST.get("value", ""))
    except NoIndex as e:
        return _no_index(request, e)
    except PickError as e:
        return render(request, "audience/_pick_error.html", {"message": str(e)}, status=422)
    return render(request, "audience/_row.html", {"text": text})


@require("build_audience")
@require_POST
def count(request: HttpRequest) -> HttpResponse:
    """The live count of the current rows (fragment), or each row's error with its token marked."""
    rows = _rows(request)
    try:
        eng = engine_for(request)
    except NoIndex as e:
        return _no_index(request, e)
    ctx: dict[str, Any] = {"rows": rows, "condition": combine_rows(rows)}
    if rows:
        from tagcloud.tags.condition import ConditionError

        started = time.perf_counter()
        try:
            ctx["count"] = eng.count(ctx["condition"])
        except ConditionError:
            # Only now parse row by row, so the message points at the row and token typed.
            ctx["errors"] = _check_rows(rows, eng.names())
            ctx["count"] = None
        ctx["ms"] = (time.perf_counter() - started) * 1000
    else:
        ctx["count"] = eng.count("TRUE")  # an empty builder: everyone in the user's region
    return render(request, "audience/_count.html", ctx)


def _checked(request: HttpRequest) -> tuple[Any, str]:
    """Engine and combined condition of a valid form, else a 422 fragment via ValueError."""
    rows = _rows(request)
    if not rows:
        raise ValueError("add at least one condition first")
    eng = engine_for(request)
    errors = _check_rows(rows, eng.names())
    if errors:
        raise ValueError(f"row {errors[0]['row']}: {errors[0]['message']}")
    return eng, combine_rows(rows)


def _action(request: HttpRequest, template: str, fn: Any) -> HttpResponse:
    try:
        eng, condition = _checked(request)
        ctx = fn(eng, condition)
    except NoIndex as e:
        return _no_index(request, e)
    except (ValueError, KeyError, FileExistsError) as e:
        return render(request, "audience/_pick_error.html", {"message": str(e).strip('"')}, status=422)
    return render(request, template, ctx)


@require("build_audience")
@require_POST
def profile(request: HttpRequest) -> HttpResponse:
    """Profile charts of the audience: the chosen attributes and product penetration (fragment)."""
    chosen = request.POST.getlist("profile") or ["brand", "age_band"]

    def run(eng: Any, condition: str) -> dict[str, Any]:
        from tagcloud.web.taglib.library import value_label

        cols = eng.index.columns
        lang = get_language() or "zh-hans"
        en = lang.startswith("en")
        # Product penetration: the engine's product flags (category "product"); a build without
        # them still has the period's order flags (category "orders"), shown as order shares.
        products = [n for n, m in cols.items() if m.get("kind") == "flag" and m.get("category") == "product"]
        orders = (
            []
            if products
            else [n for n, m in cols.items() if m.get("kind") == "flag" and m.get("category") == "orders"]
        )
        wanted = [c for c in chosen if c in cols] + products + orders
        df = eng.profile(condition, wanted)
        charts = []
        for name in [c for c in chosen if c in cols]:
            part = df.filter(df["column"] == name)
            charts.append(
                {
                    "title": label(cols[name], name),
                    "labels": [
                        value_label(name, str(v), lang) if v is not None else "∅"
                        for v in part["value"].to_list()
                    ],
                    "values": part["members"].to_list(),
                }
            )
        held = df.filter(df["column"].is_in(products + orders) | (df["column"] == "(no product)"))
        if held.height:
            title = (
                ("product penetration %" if en else "产品渗透率 %")
                if products
                else ("ordered this period %" if en else "本期订购占比 %")
            )
            charts.append(
                {
                    "title": title,
                    "labels": [
                        label(cols[c], c)
                        if c in cols
                        else ("(无产品)" if c == "(no product)" and not en else c)
                        for c in held["column"].to_list()
                    ],
                    "values": [round(100 * s, 1) for s in held["share"].to_list()],
                }
            )
        return {"charts": charts, "charts_json": json.dumps(charts, ensure_ascii=False)}

    return _action(request, "audience/_profile.html", run)


@require("build_audience")
@require_POST
def save(request: HttpRequest) -> HttpResponse:
    """Save the audience as a group (the engine keeps its snapshot; we record owner and region)."""
    from tagcloud.audience.groups import save_group

    name = request.POST.get("name", "").strip()

    def run(eng: Any, condition: str) -> dict[str, Any]:
        if SavedGroup.objects.filter(name=name).exists():
            raise ValueError(f"group name {name!r} is taken; choose another")
        info = save_group(eng, name, condition)
        sc = scope(request)
        SavedGroup.objects.create(
            name=info.name,
            kind=info.kind,
            condition=info.condition,
            members=info.members,
            owner=request.user,
            region_id=sc.root,
        )
        return {"group": info}

    return _action(request, "audience/_saved.html", run)


@require("build_audience")
@require_POST
def split(request: HttpRequest) -> HttpResponse:
    """Split the audience into tiers of a number (quantiles) or the values of an enum (fragment)."""
    by = request.POST.get("by", "")
    try:
        tiers = int(request.POST.get("tiers", "3"))
    except ValueError:
        tiers = 0

    def run(eng: Any, condition: str) -> dict[str, Any]:
        if by not in eng.index.columns:
            raise ValueError(f"split: unknown column {by!r}")
        if not 2 <= tiers <= 10:
            raise ValueError("split: tiers must be between 2 and 10")
        df = eng.split(condition, by, tiers=tiers)
        return {"tiers": df.to_dicts(), "condition": condition}

    return _action(request, "audience/_split.html", run)


@require("build_audience", "export_audience")
@require_POST
def control(request: HttpRequest) -> HttpResponse:
    """Hold out a control group (对照组) of the audience for a campaign (fragment)."""
    from tagcloud.audience.groups import control_group

    campaign = request.POST.get("campaign", "").strip()
    try:
        share = float(request.POST.get("share", "0.1"))
    except ValueError:
        share = -1.0

    def run(eng: Any, condition: str) -> dict[str, Any]:
        df = control_group(eng, campaign, condition, share)
        sc = scope(request)
        for kind in ("action", "control"):
            name = f"{campaign}.{kind}"
            members = int(df[kind].sum()) if kind in df.columns else 0
            SavedGroup.objects.update_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "condition": condition,
                    "members": members,
                    "owner": request.user,
                    "region_id": sc.root,
                },
            )
        return {"campaign": campaign, "strata": df.to_dicts(), "columns": df.columns}

    return _action(request, "audience/_control.html", run)


@require("build_audience", "export_audience")
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    """The audience as CSV (number, city, county, township), masked unless the role may unmask and
    asked to; written to the audit log either way."""
    unmask = request.POST.get("unmask") == "1"
    try:
        rows = _rows(request)
        eng = engine_for(request, unmask=unmask)
        errors = _check_rows(rows, eng.names()) if rows else [{"message": "no condition"}]
    except NoIndex as e:
        return _no_index(request, e)
    if errors:
        return render(request, "audience/_pick_error.html", {"message": errors[0]["message"]}, status=422)
    condition = combine_rows(rows)
    members = eng.members(condition)
    try:
        check_export(request.user, len(members), unmask)
    except ExportTooLarge as e:
        record(request, AuditAction.DENIED, condition, rows=len(members), reason=str(e), unmasked=unmask)
        return render(request, "audience/_pick_error.html", {"message": str(e)}, status=422)
    event = record(
        request,
        AuditAction.UNMASK if unmask else AuditAction.EXPORT,
        condition,
        rows=len(members),
        scope=eng.scope,
        unmasked=unmask,
        build_id=eng.index.build_id,
    )
    mark = watermark(request.user, event.pk, event.at)

    def pages() -> Any:
        import polars as pl

        yield "msisdn,city_id,county_id,township_id,watermark\n"
        for offset in range(0, len(members), EXPORT_PAGE):
            df = eng.list_members(members, offset=offset, limit=EXPORT_PAGE)
            yield df.with_columns(pl.lit(mark).alias("watermark")).write_csv(include_header=False)

    resp = StreamingHttpResponse(pages(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="audience-{int(time.time())}-audit{event.pk}.csv"'
    return resp


@require("build_audience")
@require_GET
def groups(request: HttpRequest) -> HttpResponse:
    """Saved groups visible in the user's scope, and the form to combine them."""
    qs = scope(request).filter_queryset(SavedGroup.objects.select_related("owner", "region"), "region_id")
    return render(
        request, "audience/groups.html", {"groups": qs[:200], "ops": ("union", "intersect", "minus")}
    )


@require("build_audience")
@require_POST
def combine(request: HttpRequest) -> HttpResponse:
    """Union / intersect / minus of saved groups in scope, saved as a new group (fragment)."""
    from tagcloud.audience.groups import combine as combine_groups

    names = request.POST.getlist("groups")
    op = request.POST.get("op", "")
    name = request.POST.get("name", "").strip()
    visible = set(
        scope(request)
        .filter_queryset(SavedGroup.objects.filter(name__in=names), "region_id")
        .values_list("name", flat=True)
    )
    try:
        hidden = [n for n in names if n not in visible]
        if hidden:
            raise PermissionDenied(f"groups not in your region: {', '.join(hidden)}")
        if SavedGroup.objects.filter(name=name).exists():
            raise ValueError(f"group name {name!r} is taken; choose another")
        eng = engine_for(request)
        info = combine_groups(eng, name, op, names)
    except NoIndex as e:
        return _no_index(request, e)
    except (ValueError, KeyError, FileExistsError) as e:
        return render(request, "audience/_pick_error.html", {"message": str(e).strip('"')}, status=422)
    sc = scope(request)
    SavedGroup.objects.create(
        name=info.name,
        kind=info.kind,
        condition=info.condition,
        members=info.members,
        owner=request.user,
        region_id=sc.root,
    )
    return render(request, "audience/_saved.html", {"group": info})
