"""Glue between the pages and ``tagcloud.regions``: the request's user as a workflow Actor, the
scoped querysets, and the write paths (each in one transaction, each step recorded)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from tagcloud.campaigns.workflow import Actor, ApprovalPolicy
from tagcloud.regions import cells as cells_mod
from tagcloud.regions import competition as comp
from tagcloud.regions.rural import RowError, validate_rows
from tagcloud.web.accounts.scope import RegionScope, descendants, scope_for_user
from tagcloud.web.markets.models import (
    CellTask,
    CellVersion,
    CompetitionEvent,
    CompetitionRecipient,
    CompetitionReport,
    Message,
    TownshipInfo,
    TownshipInfoVersion,
)
from tagcloud.web.reference.models import Cell, Region

REPLY_LEVELS = ("county", "city", "province")  # 县(市)分公司以上级别 may reply


def policy() -> ApprovalPolicy:
    """The competition chain, with "inside" decided by the region table (not by code prefixes)."""
    from tagcloud.web.accounts.scope import _parent_map

    def within(region: str, ancestor: str) -> bool:
        return region in descendants(ancestor, _parent_map())

    return comp.competition_policy(ApprovalPolicy(within=within))


def actor_for(user: Any, sc: RegionScope) -> Actor:
    """The user as the chain sees them (as ``web.campaigns.service.actor_for``, with the
    competition reviewer's permission as the right to approve)."""
    from tagcloud.web.campaigns.service import actor_for as campaign_actor

    a = campaign_actor(user, sc)
    level = sc.level or ("province" if sc.everything else "")
    return Actor(a.user, str(level), a.region_id, can_approve=user.has_perm("accounts.review_competition"))


def notify(users: Any, text: str, text_en: str, link: str = "") -> None:
    """An in-app message (Chinese and English) to each user."""
    Message.objects.bulk_create(
        [Message(user=u, text=text[:300], text_en=text_en[:300], link=link) for u in users]
    )


# -- competition ---------------------------------------------------------------------------------


def visible_reports(sc: RegionScope) -> QuerySet[CompetitionReport]:
    """Reports in the user's region, and those shared across cities (外网营销政策共享)."""
    qs = CompetitionReport.objects.select_related("region", "reporter")
    if sc.everything:
        return qs
    return qs.filter(Q(region_id__in=sc.region_ids) | Q(shared=True))


def in_scope(report: CompetitionReport, sc: RegionScope) -> bool:
    return sc.allows(report.region_id)


def _as_report(r: CompetitionReport) -> comp.Report:
    verifiers = tuple(r.events.filter(action="verify").values_list("actor", flat=True))
    recipients = tuple(r.recipients.values_list("user__username", flat=True))
    reporter = r.reporter.get_username() if r.reporter else ""
    return comp.Report(r.region_id, reporter, comp.CompetitionState(r.state), verifiers, recipients)


@transaction.atomic
def create_report(user: Any, sc: RegionScope, data: dict[str, Any], files: list[Any]) -> CompetitionReport:
    """A new report in the user's region; attachments checked first, so a refused file stores nothing."""
    from tagcloud.web.markets.models import CompetitionAttachment

    if not sc.allows(data["region_id"]):
        raise comp.WorkflowError(f"region {data['region_id']} is outside your region")
    if len(files) > comp.MAX_UPLOADS:
        raise comp.UploadError(f"at most {comp.MAX_UPLOADS} attachments")
    checked = []
    for f in files:
        head = f.read(512)
        f.seek(0)
        checked.append((f, comp.check_upload(f.name, f.size, head)))
    r = CompetitionReport.objects.create(
        competitor=data["competitor"],
        kind=data["kind"],
        region_id=data["region_id"],
        happened_on=data["happened_on"],
        title=data["title"],
        text=data["text"],
        impact=data["impact"],
        kpis=data.get("kpis", ""),
        reporter=user,
    )
    for f, ext in checked:
        CompetitionAttachment.objects.create(report=r, name=f.name[:200], ext=ext, size=f.size, file=f)
    CompetitionEvent.objects.create(
        report=r, actor=user.get_username(), action="report", from_state="", to_state=r.state
    )
    _notify_next(r)
    return r


def _reviewers_at(level: str, region_id: str) -> list[User]:
    """Users holding review_competition at ``level`` whose region holds ``region_id``."""
    pol = policy()
    out = []
    for u in User.objects.filter(profile__region__level=level).select_related("profile__region"):
        if u.has_perm("accounts.review_competition") and pol.within(region_id, u.profile.region_id):
            out.append(u)
    return out


def _notify_next(r: CompetitionReport) -> None:
    steps = [s for s, _ in comp.VERIFY_STEPS]
    if r.state in steps:
        level = policy().chain("report")[steps.index(comp.CompetitionState(r.state))]
        notify(
            _reviewers_at(level, r.region_id), f"竞争信息待审核: {r.title}", f"/markets/competition/{r.pk}/"
        )


@transaction.atomic
def act(
    r: CompetitionReport,
    user: Any,
    sc: RegionScope,
    action: str,
    comment: str = "",
    recipients: list[str] | None = None,
    importance: int | None = None,
    shared: bool = False,
) -> CompetitionReport:
    """Apply one step of the chain (verify / reject / respond); refused steps raise WorkflowError."""
    r = CompetitionReport.objects.select_for_update().get(pk=r.pk)
    try:
        what = comp.Action(action)
    except ValueError:
        raise comp.WorkflowError(f"unknown action {action!r}") from None
    users = list(User.objects.filter(username__in=recipients or []))
    if recipients and len(users) != len(set(recipients)):
        raise comp.WorkflowError("a chosen marketing head does not exist")
    state = comp.next_state(
        _as_report(r), what, actor_for(user, sc), policy(), comment, [u.username for u in users], importance
    )
    before = r.state
    if what == comp.Action.VERIFY and before == comp.CompetitionState.OFFICE_VERIFIED:
        r.proposal = comment
    if what == comp.Action.VERIFY and before == comp.CompetitionState.COUNTY_VERIFIED:
        r.importance = importance
        r.shared = shared
        for u in users:
            CompetitionRecipient.objects.get_or_create(report=r, user=u)
        notify(
            users,
            f"竞争信息已分发, 请确定应对方案: {r.title}",
            f"Decide the response to: {r.title}",
            f"/markets/competition/{r.pk}/",
        )
    if what == comp.Action.RESPOND:
        r.response = comment
    r.state = state.value
    r.save()
    CompetitionEvent.objects.create(
        report=r,
        actor=user.get_username(),
        action=what.value,
        from_state=before,
        to_state=r.state,
        comment=comment,
    )
    _notify_next(r)
    return r


def kpi_course(kpi_ids: list[str], region_id: str, since: dt.date, warehouse: Any) -> list[dict[str, Any]]:
    """The linked KPIs' daily course in the report's region from a week before the report on: the
    effect of the response, from the alerts module's KPI store (``tagcloud.regions.kpi``). Empty when
    that module or its computed KPIs are absent; an unknown KPI name gives a row with its error."""
    import importlib

    try:  # the alerts part of regional management (its own branch until merged)
        kpi_mod: Any = importlib.import_module("tagcloud.regions.kpi")
    except ImportError:
        return []
    from tagcloud.data.warehouse import Warehouse

    store = kpi_mod.default_store(Warehouse(warehouse))
    days = [d for d in store.days() if d >= since - dt.timedelta(days=7)]
    out: list[dict[str, Any]] = []
    for k in kpi_ids:
        try:
            kpi = kpi_mod.get_kpi(k)
        except kpi_mod.KpiError as e:
            out.append({"kpi": k, "error": str(e)})
            continue
        if not days:
            out.append({"kpi": k, "error": f"no KPI values since {since - dt.timedelta(days=7)}"})
            continue
        rows = store.values(k, days, region_ids=[region_id]).to_pylist()
        out.append(
            {
                "kpi": k,
                "name": kpi.name,
                "name_en": kpi.name_en,
                "labels": [r["day"].isoformat() for r in rows],
                "values": [None if r["value"] is None else round(float(r["value"]), 2) for r in rows],
            }
        )
    return out


def may_reply(sc: RegionScope) -> bool:
    return bool(sc.everything or sc.level in REPLY_LEVELS)


def marketing_heads(region_id: str) -> list[User]:
    """Users who design campaigns (营销主管) in regions that hold the report's."""
    pol = policy()
    out = []
    for u in (
        User.objects.filter(profile__isnull=False).select_related("profile__region").order_by("username")
    ):
        if u.has_perm("accounts.design_campaign") and (
            u.profile.region.level == "province" or pol.within(region_id, u.profile.region_id)
        ):
            out.append(u)
    return out


# -- township info base --------------------------------------------------------------------------

INFO_FIELDS = [
    f.name
    for f in TownshipInfo._meta.get_fields()
    if f.name not in ("township", "version", "updated_by", "updated_at")
]


def _jsonable(v: Any) -> Any:
    return str(v) if isinstance(v, Decimal) else v


def editable_townships(sc: RegionScope) -> dict[str, str]:
    qs = Region.objects.filter(level="township")
    if not sc.everything:
        qs = qs.filter(region_id__in=sc.region_ids)
    return dict(qs.values_list("region_id", "name"))


@transaction.atomic
def save_township(township_id: str, record: dict[str, Any], user: Any, source: str) -> bool:
    """Write one township record as a new version; False (nothing written) when nothing changed."""
    info = TownshipInfo.objects.select_for_update().filter(township_id=township_id).first()
    before = {f: _jsonable(getattr(info, f)) for f in INFO_FIELDS} if info else {}
    after = {f: _jsonable(record.get(f)) for f in INFO_FIELDS}
    changed = [f for f in INFO_FIELDS if before.get(f) != after[f]]
    if info is not None and not changed:
        return False
    info = info or TownshipInfo(township_id=township_id)
    for f in INFO_FIELDS:
        setattr(info, f, record.get(f))
    info.version += 1
    info.updated_by = user
    info.save()
    TownshipInfoVersion.objects.create(
        township_id=township_id,
        version=info.version,
        data=after,
        changed=changed,
        by=user,
        source=source[:200],
    )
    return True


def import_townships(
    rows: list[dict[str, str]], sc: RegionScope, user: Any, filename: str
) -> tuple[int, list[RowError]]:
    """Import a sheet's rows: every row valid → all written (one transaction) and the number of
    records changed; any row bad → nothing written and every row's errors."""
    records, errors = validate_rows(rows, editable_townships(sc))
    if errors:
        return 0, errors
    with transaction.atomic():
        changed = sum(save_township(r["township_id"], r, user, f"import {filename}") for r in records)
    return changed, []


def load_townships_from_warehouse(warehouse: Any, user: Any = None) -> tuple[int, list[RowError]]:
    """Seed the info base from the warehouse's ``townships`` table (the statistical yearbook's
    figures, 统计年鉴): validated like a sheet, all or nothing, each change a version."""
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.web.accounts.scope import EVERYTHING

    con = Warehouse(warehouse).connect(threads=1)
    try:
        tbl = con.sql("SELECT * FROM townships ORDER BY township_id").to_arrow_table()
    finally:
        con.close()
    rows = [
        {
            k: "" if v is None else ("是" if v is True else "否" if v is False else str(v))
            for k, v in r.items()
        }
        for r in tbl.to_pylist()
    ]
    return import_townships(rows, EVERYTHING, user, "warehouse townships")


# -- cell maintenance ----------------------------------------------------------------------------


def reference_cells() -> list[dict[str, Any]]:
    return [
        {
            "cell_id": c.cell_id,
            "lat": c.lat,
            "lon": c.lon,
            "rat": c.rat,
            "township_id": c.township_id,
            "area_type": c.area_type,
            "site_id": c.site_id or None,
            "site_name": c.site_name or None,
        }
        for c in Cell.objects.all()
    ]


@transaction.atomic
def detect_cell_changes(feed: list[dict[str, Any]]) -> int:
    """Open a task for every new, changed or retired cell without an open one; remind the owners."""
    open_ids = set(CellTask.objects.exclude(state=CellTask.State.APPROVED).values_list("cell_id", flat=True))
    towns = set(Region.objects.filter(level="township").values_list("region_id", flat=True))
    made = []
    for ch in cells_mod.detect_changes(feed, reference_cells()):
        if ch.cell_id in open_ids:
            continue
        town = (ch.after or ch.before).get("township_id")
        made.append(
            CellTask.objects.create(
                cell_id=ch.cell_id,
                kind=ch.kind.value,
                before=ch.before,
                after=ch.after,
                fields=list(ch.fields),
                township_id=town if town in towns else None,
                area_type=str((ch.after or {}).get("area_type") or ""),
            )
        )
    for t in made:
        notify(
            cell_owners(t),
            f"小区{t.cell_id}有变更({t.kind}), 请分类",
            f"Cell {t.cell_id} is {t.kind}: classify it",
            "/markets/cells/",
        )
    return len(made)


def cell_owners(task: CellTask) -> list[User]:
    """Users who maintain cells in a region holding the task's township."""
    if task.township_id is None:
        return list(User.objects.filter(is_superuser=True))
    out = []
    for u in User.objects.filter(profile__isnull=False).select_related("profile__region"):
        if u.has_perm("accounts.maintain_cells") and scope_for_user(u).allows(task.township_id):
            out.append(u)
    return out


def classify_cell(task: CellTask, user: Any, klass: str, area_type: str, channel: str) -> CellTask:
    if task.state not in (CellTask.State.OPEN, CellTask.State.RETURNED):
        raise ValueError(f"cell {task.cell_id} is {task.state}: it is not waiting for classification")
    if task.kind != cells_mod.ChangeKind.RETIRED.value:
        allowed = cells_mod.area_types_of(klass)
        if area_type not in allowed:
            raise ValueError(
                f"area type {area_type!r} does not belong to class {klass!r} ({', '.join(allowed)})"
            )
    task.klass, task.area_type, task.channel = klass, area_type, channel
    task.state, task.classified_by = CellTask.State.CLASSIFIED, user
    task.save()
    return task


@transaction.atomic
def review_cell(task: CellTask, user: Any, approve: bool, comment: str = "") -> CellTask:
    """Approve (write the reference Cell and a new CellVersion) or return with a comment."""
    task = CellTask.objects.select_for_update().get(pk=task.pk)
    if task.state != CellTask.State.CLASSIFIED:
        raise ValueError(f"cell {task.cell_id} is {task.state}: only a classified change is reviewed")
    if task.classified_by_id == user.pk:
        raise ValueError("the person who classified a cell does not approve it")
    task.reviewed_by, task.comment = user, comment
    if not approve:
        if not comment.strip():
            raise ValueError("returning a cell change needs a comment")
        task.state = CellTask.State.RETURNED
        task.save()
        return task
    data: dict[str, Any] = {}
    if task.kind == cells_mod.ChangeKind.RETIRED.value:
        Cell.objects.filter(cell_id=task.cell_id).delete()
    else:
        a = dict(task.after)
        data = {**a, "area_type": task.area_type}
        Cell.objects.update_or_create(
            cell_id=task.cell_id,
            defaults={
                "lat": a["lat"],
                "lon": a["lon"],
                "rat": a["rat"],
                "township_id": a["township_id"],
                "area_type": task.area_type,
                "site_id": a.get("site_id") or "",
                "site_name": a.get("site_name") or "",
            },
        )
    last = CellVersion.objects.filter(cell_id=task.cell_id).order_by("-version").first()
    CellVersion.objects.create(
        cell_id=task.cell_id,
        version=(last.version if last else 0) + 1,
        data=data,
        channel=task.channel,
        task=task,
        by=user,
    )
    task.state = CellTask.State.APPROVED
    task.save()
    return task


def remind_stale_cells(now: dt.datetime | None = None, days: int = cells_mod.STALE_DAYS) -> int:
    """Remind owners of cell changes left unclassified for more than ``days`` (an in-app message
    per owner and task, at most once a day); the number of reminders sent. A job or the alerts
    module calls this."""
    now = now or timezone.now()
    sent = 0
    for t in CellTask.objects.filter(state__in=[CellTask.State.OPEN, CellTask.State.RETURNED]):
        if not cells_mod.is_stale(t.detected_at, now, days):
            continue
        if t.reminded_at is not None and now - t.reminded_at < dt.timedelta(days=1):
            continue
        owners = cell_owners(t)
        notify(
            owners,
            f"小区{t.cell_id}变更已超过{days}天未分类, 请尽快处理",
            f"Cell {t.cell_id} has waited over {days} days for classification",
            "/markets/cells/",
        )
        t.reminded_at = now
        t.save(update_fields=["reminded_at"])
        sent += len(owners)
    return sent
