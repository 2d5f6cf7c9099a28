"""The alerts' service layer: rules with chain validation, raising alerts (by the evaluator or by
hand), the loop's transitions with their notifications (inbox + SMS over SMPP), tracking.

Views and the CLI call these; the logic of rules, states and drill-down is ``tagcloud.regions``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from tagcloud.regions import alerts as al
from tagcloud.regions.kpi import ALL_CHANNELS, KpiError, KpiStore, get_kpi
from tagcloud.web.accounts.scope import RegionScope, descendants, scope_for_user
from tagcloud.web.alerts.models import Alert, AlertEvent, AlertRule, InboxMessage, SmsNotice, StaffContact
from tagcloud.web.reference.models import Cell, Region

log = logging.getLogger(__name__)


class RuleError(ValueError):
    """A rule or a manual alert that cannot be saved; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def kpi_store() -> KpiStore:
    """The KPI tables beside the warehouse the pages read (``settings.ALERTS_KPI_DIR`` overrides)."""
    d = getattr(settings, "ALERTS_KPI_DIR", None)
    return KpiStore(Path(d) if d else Path(settings.WAREHOUSE_DIR) / "marts")


# --- people and places -------------------------------------------------------------------------
def person(user: User | None, region_id: str) -> al.Person | None:
    if user is None:
        return None
    return al.Person(
        user.pk,
        user.get_full_name() or user.first_name or user.username,
        user.has_perm("accounts.handle_alert"),
        scope_for_user(user).allows(region_id),
    )


def display_name(user: User) -> str:
    return f"{user.first_name or user.username} ({user.username})"


def candidates(viewer: User) -> list[User]:
    """People a rule's chain may name: holders of handle_alert in the viewer's scope or above it."""
    from tagcloud.web.accounts.models import Profile

    sc = scope_for_user(viewer)
    parents = dict(Region.objects.values_list("region_id", "parent_id"))
    up: set[str] = set()
    r: str | None = sc.root
    while r:
        up.add(r)
        r = parents.get(r)
    out = []
    for p in Profile.objects.select_related("user", "region").order_by("user__username"):
        if not p.user.has_perm("accounts.handle_alert"):
            continue
        if sc.allows(p.region_id) or p.region_id in up:
            out.append(p.user)
    return out


def places(region: Region, level: str) -> list[str]:
    """The regions (or cells) at ``level`` under ``region`` (the region itself at its own level)."""
    if level == region.level:
        return [region.region_id]
    parents = dict(Region.objects.values_list("region_id", "parent_id"))
    under = descendants(region.region_id, parents)
    if level == "cell":
        return sorted(Cell.objects.filter(township_id__in=under).values_list("cell_id", flat=True))
    return sorted(Region.objects.filter(region_id__in=under, level=level).values_list("region_id", flat=True))


def place_region(place_id: str) -> Region:
    """The region an alert's place belongs to (a cell's township)."""
    region = Region.objects.filter(region_id=place_id).first()
    if region is not None:
        return region
    cell = Cell.objects.select_related("township").filter(cell_id=place_id).first()
    if cell is None:
        raise RuleError([f"no region or cell {place_id!r}"])
    return cell.township


def place_label(place_id: str, level: str) -> str:
    """How the seed's SMS names a place: "某县公司的某片区", "某市公司的某县", a cell in its township."""
    if level == "cell":
        region = place_region(place_id)
        return f"{region.name}的小区{place_id}"
    r = Region.objects.select_related("parent").filter(region_id=place_id).first()
    if r is None:
        return place_id
    if r.parent is not None and r.level in ("township", "county"):
        return f"{r.parent.name}公司的{r.name}"
    return r.name


# --- rules ------------------------------------------------------------------------------------
@dataclass
class RuleInput:
    name: str
    kpi: str
    region_id: str
    level: str
    kind: str
    operator: str
    threshold: float
    reporter_id: int | None
    reviewer_ids: list[int]
    owner_id: int | None
    channel: str = ALL_CHANNELS
    min_volume: float = 0.0
    history_days: int = 14
    due_days: int = 3
    tracking_days: int = 7
    report_url: str = ""


def _users(ids: Iterable[int | None]) -> dict[int, User]:
    wanted = [i for i in ids if i is not None]
    return {u.pk: u for u in User.objects.filter(pk__in=wanted)}


def chain_check(
    region_id: str, reporter_id: int | None, reviewer_ids: list[int], owner_id: int | None
) -> list[str]:
    users = _users([reporter_id, owner_id, *reviewer_ids])
    problems = [
        f"no user with id {i}"
        for i in [reporter_id, owner_id, *reviewer_ids]
        if i is not None and i not in users
    ]
    problems += al.chain_problems(
        person(users.get(reporter_id) if reporter_id else None, region_id),
        [p for p in (person(users.get(i), region_id) for i in reviewer_ids) if p is not None],
        person(users.get(owner_id) if owner_id else None, region_id),
    )
    return problems


def save_rule(data: RuleInput, by: User) -> AlertRule:
    """Create a rule; RuleError with every reason when it cannot be saved (nothing is written)."""
    problems: list[str] = []
    if not data.name.strip():
        problems.append("the rule needs a name")
    try:
        get_kpi(data.kpi)
        al.ThresholdKind(data.kind)
    except (KpiError, ValueError) as e:
        problems.append(str(e))
    if data.operator not in al.OPERATORS:
        problems.append(f"operator must be one of {' '.join(al.OPERATORS)}")
    region = Region.objects.filter(region_id=data.region_id).first()
    if region is None:
        problems.append(f"no region {data.region_id!r}")
    elif not scope_for_user(by).allows(region.region_id):
        problems.append("the rule's region is outside your scope")
    levels = ["province", "city", "county", "township", "cell"]
    if region is not None and (
        data.level not in levels or levels.index(data.level) < levels.index(region.level)
    ):
        problems.append(f"level {data.level!r} must be {region.level} or below")
    problems += chain_check(data.region_id, data.reporter_id, data.reviewer_ids, data.owner_id)
    if problems:
        raise RuleError(problems)
    assert region is not None
    return AlertRule.objects.create(
        name=data.name.strip(), kpi=data.kpi, region=region, level=data.level, channel=data.channel or "*",
        kind=data.kind, operator=data.operator, threshold=data.threshold, min_volume=data.min_volume,
        history_days=data.history_days, reporter_id=data.reporter_id, reviewer_ids=list(data.reviewer_ids),
        owner_id=data.owner_id, due_days=data.due_days, tracking_days=data.tracking_days,
        report_url=data.report_url, created_by=by,
    )  # fmt: skip


def spec(rule: AlertRule) -> al.RuleSpec:
    return al.RuleSpec(
        rule.pk, rule.kpi, tuple(places(rule.region, rule.level)), al.ThresholdKind(rule.kind), rule.operator,
        rule.threshold, rule.channel or ALL_CHANNELS, rule.min_volume, rule.history_days,
    )  # fmt: skip


# --- alert text ---------------------------------------------------------------------------------
_OP_WORDS = {"<": "低于", "<=": "不高于", ">": "高于", ">=": "不低于"}
# the condition stored with an alert is in the seed's words whatever language the process runs in
_KIND_WORDS = {"absolute": "", "change_day": "较昨日变化%", "change_week": "较上周同日变化%",
               "change_month": "较上月同日变化%", "anomaly": "稳健Z分数"}  # fmt: skip


def alert_text(
    kpi_id: str, place: str, level: str, day: dt.date, value: float | None, b: al.Breach | None
) -> str:
    """The seed's SMS: "*月*日某县公司的某片区当日两方新增市场占有率为63.3%,低于70%,请关注…"."""
    k = get_kpi(kpi_id)
    head = f"{day.month}月{day.day}日{place_label(place, level)}当日{k.name}为{k.format(value)}"
    if b is None:
        cond = ""
    elif b.kind == al.ThresholdKind.ABSOLUTE:
        cond = f",{_OP_WORDS[b.operator]}{k.format(b.threshold)}"
    elif b.kind == al.ThresholdKind.ANOMALY:
        cond = f",偏离近{get_history(b)}日中位数{k.format(b.baseline)}达{abs(b.metric):.1f}个稳健标准差"
    else:
        word = {"change_day": "昨日", "change_week": "上周同日", "change_month": "上月同日"}[b.kind.value]
        cond = f",较{word}({k.format(b.baseline)}){'下降' if b.metric < 0 else '上升'}{abs(b.metric):.1f}%"
    return f"{head}{cond},请关注并及时通过经营分析系统上报原因。"


def get_history(b: al.Breach) -> int:
    rule = AlertRule.objects.filter(pk=b.rule_id).first()
    return rule.history_days if rule else 14


# --- raising ----------------------------------------------------------------------------------
def _explain(kpi: str, level: str, place: str, day: dt.date, kind: str, channel: str) -> dict[str, Any]:
    store = kpi_store()
    base = al.baseline_day(day, kind)
    try:
        # the rule's baseline day, or the latest earlier day on which the KPI had a value there
        # (a share needs a week of lookback, so the first week of a warehouse has none)
        have = store.values(
            kpi,
            [base - dt.timedelta(days=i) for i in range(0, 8)] + [day - dt.timedelta(days=1)],
            channel=channel,
            region_ids=[place],
        ).to_pylist()
        valued = sorted((r["day"] for r in have if r["value"] is not None and r["day"] < day), reverse=True)
        if valued and base not in valued:
            base = valued[0]
    except KpiError:
        pass
    try:
        e = al.drill_down(store, kpi, level, place, day, base, channel)
    except (KpiError, ValueError) as ex:
        return {"error": str(ex)}
    ids = {r.member for r in e.rows if r.dimension == "sub_region"}
    names = dict(Region.objects.filter(region_id__in=ids).values_list("region_id", "name"))
    out = al.explanation_dict(e, names)
    out["headline"] = al.headline(e, names)
    parts = al.headline_parts(e, {**names, "unknown": al.UNATTRIBUTED})
    if parts is not None:
        out["headline_dim"], out["headline_share"], out["headline_members"] = (
            parts[0],
            round(parts[1] * 100),
            parts[2],
        )
    return out


def _create(
    *,
    rule: AlertRule | None,
    kpi: str,
    place: str,
    level: str,
    channel: str,
    day: dt.date,
    value: float | None,
    baseline: float | None,
    metric: float | None,
    condition: str,
    text: str,
    reporter_id: int,
    reviewer_ids: list[int],
    owner_id: int,
    due_days: int,
    tracking_days: int,
    report_url: str,
    kind: str,
    by: User | None,
) -> Alert | None:
    region = place_region(place)
    explanation = _explain(kpi, level, place, day, kind, channel)
    if baseline is None and isinstance(explanation.get("value_base"), float):
        baseline = explanation["value_base"]  # what the drill-down compared with
    try:
        with transaction.atomic():
            a = Alert.objects.create(
                rule=rule,
                kpi=kpi,
                region=region,
                place_id=place,
                level=level,
                channel=channel,
                day=day,
                value=value,
                baseline=baseline,
                metric=metric,
                condition=condition[:200],
                text=text,
                reporter_id=reporter_id,
                reviewer_ids=reviewer_ids,
                owner_id=owner_id,
                due_date=day + dt.timedelta(days=due_days),
                tracking_days=tracking_days,
                report_url=report_url,
                explanation=_explain(kpi, level, place, day, kind, channel),
                raised_by=by,
            )
            AlertEvent.objects.create(
                alert=a,
                actor=by,
                actor_name=by.username if by else "system",
                action=al.AlertAction.RAISE.value,
                text=text,
                to_state=a.state,
            )
    except IntegrityError:
        return None  # this rule already raised this alert for this place and day
    notify(a, chain_users(a), text, sms=True)
    return a  # fmt: skip


def evaluate_day(day: dt.date, rules: Sequence[AlertRule] | None = None) -> list[Alert]:
    """Evaluate the active rules on ``day`` and raise an alert per new breach (notifying its chain);
    returns the alerts raised now (a breach already raised is not raised twice)."""
    rules = list(rules if rules is not None else AlertRule.objects.filter(active=True))
    by_id = {r.pk: r for r in rules}
    breaches = al.evaluate([spec(r) for r in rules], kpi_store(), day)
    out = []
    for b in breaches:
        r = by_id[b.rule_id]
        k = get_kpi(b.kpi)
        a = _create(
            rule=r, kpi=b.kpi, place=b.region_id, level=b.level or r.level, channel=b.channel, day=day,
            value=b.value, baseline=b.baseline, metric=b.metric,
            condition=f"{k.name}{_KIND_WORDS[r.kind]} {r.operator} {r.threshold:g}",
            text=alert_text(b.kpi, b.region_id, b.level or r.level, day, b.value, b), reporter_id=r.reporter_id,
            reviewer_ids=list(r.reviewer_ids), owner_id=r.owner_id, due_days=r.due_days,
            tracking_days=r.tracking_days, report_url=r.report_url, kind=r.kind, by=None,
        )  # fmt: skip
        if a is not None:
            out.append(a)
    return out


def raise_by_hand(
    by: User,
    kpi: str,
    place: str,
    day: dt.date,
    reporter_id: int | None,
    reviewer_ids: list[int],
    owner_id: int | None,
    note: str,
    channel: str = ALL_CHANNELS,
    due_days: int = 3,
    tracking_days: int = 7,
) -> Alert:
    """A manager raises an alert on any KPI of a place in their scope (管理者…可自行选择预警处理人员)."""
    problems: list[str] = []
    try:
        get_kpi(kpi)
    except KpiError as e:
        raise RuleError([str(e)]) from None
    region = place_region(place)
    level = "cell" if region.region_id != place else region.level
    if not scope_for_user(by).allows(region.region_id):
        raise RuleError(["the place is outside your scope"])
    problems += chain_check(region.region_id, reporter_id, reviewer_ids, owner_id)
    if problems:
        raise RuleError(problems)
    assert reporter_id is not None and owner_id is not None
    store = kpi_store()
    try:
        t = store.values(kpi, [day], channel=channel, region_ids=[place])
        value = t.column("value")[0].as_py() if t.num_rows else None
    except KpiError:
        value = None
    text = alert_text(kpi, place, level, day, value, None).replace(
        ",请关注", f",{note.strip()},请关注" if note.strip() else ",请关注"
    )
    a = _create(
        rule=None, kpi=kpi, place=place, level=level, channel=channel, day=day, value=value, baseline=None,
        metric=None, condition=note.strip()[:200] or "人工发起", text=text, reporter_id=reporter_id,
        reviewer_ids=reviewer_ids, owner_id=owner_id, due_days=due_days, tracking_days=tracking_days,
        report_url="", kind=al.ThresholdKind.CHANGE_WEEK.value, by=by,
    )  # fmt: skip
    assert a is not None  # manual alerts have no rule, so the uniqueness constraint never applies
    return a


# --- the loop ---------------------------------------------------------------------------------
def chain_users(a: Alert) -> list[User]:
    users = _users([a.reporter_id, a.owner_id, *a.reviewer_ids])
    return [users[i] for i in [a.reporter_id, *a.reviewer_ids, a.owner_id] if i in users]


def turn_of(a: Alert, user: User) -> al.Turn | None:
    """The role ``user`` holds in the alert's chain (the one whose turn it is, if several)."""
    turn = al.whose_turn(al.AlertState(a.state), a.step)
    roles: list[al.Turn] = []
    if user.pk == a.reporter_id:
        roles.append(al.Turn(al.Role.REPORTER))
    roles += [al.Turn(al.Role.REVIEWER, i) for i, uid in enumerate(a.reviewer_ids) if uid == user.pk]
    if user.pk == a.owner_id:
        roles.append(al.Turn(al.Role.OWNER))
    if turn in roles:
        return turn
    return roles[0] if roles else None


def current_user(a: Alert) -> User | None:
    turn = al.whose_turn(al.AlertState(a.state), a.step)
    if turn is None:
        return None
    uid = {al.Role.REPORTER: a.reporter_id, al.Role.OWNER: a.owner_id}.get(turn.role)
    if turn.role == al.Role.REVIEWER:
        uid = a.reviewer_ids[turn.step]
    return User.objects.filter(pk=uid).first()


def visible(a: Alert, sc: RegionScope) -> bool:
    return sc.allows(a.region_id)


def act(a: Alert, user: User, action: str, text: str = "", today: dt.date | None = None) -> Alert:
    """``user`` takes ``action`` on the alert; AlertFlowError says why not. Records the step and
    notifies the next person (the whole chain when it closes; the others on a comment)."""
    try:
        act_ = al.AlertAction(action)
    except ValueError:
        raise al.AlertFlowError(f"unknown action {action!r}") from None
    with transaction.atomic():
        a = Alert.objects.select_for_update().get(pk=a.pk)
        before = al.AlertState(a.state)
        state, step = al.transition(before, a.step, len(a.reviewer_ids), act_, turn_of(a, user), text)
        a.state, a.step = state.value, step
        if act_ in (al.AlertAction.REPORT, al.AlertAction.REVISE_AND_REPORT):
            a.report = text.strip()
        if state == al.AlertState.TRACKING:
            a.closed_on = today or timezone.localdate()
        a.save()
        AlertEvent.objects.create(
            alert=a,
            actor=user,
            actor_name=user.username,
            action=act_.value,
            text=text.strip(),
            from_state=before.value,
            to_state=state.value,
        )
    who = user.first_name or user.username
    k = get_kpi(a.kpi)
    subject = f"{a.day.month}月{a.day.day}日{place_label(a.place_id, a.level)}{k.name}预警"
    if act_ == al.AlertAction.COMMENT:
        notify(
            a,
            [u for u in chain_users(a) if u.pk != user.pk],
            f"{subject}: {who}反馈: {text.strip()[:60]}",
            sms=False,
        )
    elif state == al.AlertState.TRACKING:
        notify(a, chain_users(a), f"{subject}已由{who}结束流程, 进入{a.tracking_days}天跟踪期。", sms=True)
    elif state == al.AlertState.RETURNED:
        notify(
            a,
            [u for u in chain_users(a) if u.pk == a.reporter_id],
            f"{subject}被{who}退回修改: {text.strip()[:60]}",
            sms=True,
        )
    else:
        nxt = current_user(a)
        if nxt is not None:
            notify(a, [nxt], f"{subject}: {who}已上报, 请审核。", sms=True)
    return a


def end_tracking(today: dt.date) -> int:
    """Move alerts whose tracking days are over into history (历史预警); returns how many."""
    n = 0
    for a in Alert.objects.filter(state=al.AlertState.TRACKING.value, closed_on__isnull=False):
        if a.closed_on is not None and a.closed_on + dt.timedelta(days=a.tracking_days) < today:
            with transaction.atomic():
                a.state = al.AlertState.HISTORY.value
                a.save(update_fields=["state"])
                AlertEvent.objects.create(
                    alert=a,
                    actor=None,
                    actor_name="system",
                    action=al.AlertAction.END_TRACKING.value,
                    from_state=al.AlertState.TRACKING.value,
                    to_state=a.state,
                )
            n += 1
    return n


def tracking_series(a: Alert, days_before: int = 7) -> dict[str, Any]:
    """The KPI's course for the alert's place from a week before the alert to the latest day."""
    store = kpi_store()
    all_days = [d for d in store.days() if d >= a.day - dt.timedelta(days=days_before)]
    if not all_days:
        return {"days": [], "values": [], "alert_day": a.day.isoformat()}
    t = store.values(a.kpi, all_days, channel=a.channel, region_ids=[a.place_id]).to_pylist()
    by_day = {r["day"]: r["value"] for r in t}
    additive = get_kpi(a.kpi).denominator is None
    values = [by_day.get(d, 0.0 if additive else None) for d in all_days]
    return {
        "days": [d.isoformat() for d in all_days],
        "values": [None if v is None else round(float(v), 2) for v in values],
        "alert_day": a.day.isoformat(),
        "closed_on": a.closed_on.isoformat() if a.closed_on else None,
        "threshold": a.rule.threshold if a.rule and a.rule.kind == al.ThresholdKind.ABSOLUTE.value else None,
    }


# --- notifications ----------------------------------------------------------------------------
def _smsc() -> tuple[str, int]:
    conf = str(getattr(settings, "ALERTS_SMSC", "") or "")
    if conf:
        host, port = conf.rsplit(":", 1)
        return host, int(port)
    from tagcloud.web.campaigns.service import smsc_address

    return smsc_address()


def notify(a: Alert, users: Sequence[User], text: str, *, sms: bool) -> None:
    """A system message to each user, and an SMS to those with a mobile number (over SMPP)."""
    for u in users:
        InboxMessage.objects.create(recipient=u, alert=a, text=text)
    if not sms:
        return
    contacts = {c.user_id: c.mobile for c in StaffContact.objects.filter(user__in=users)}
    batch = [(i, contacts[u.pk], u) for i, u in enumerate(users) if u.pk in contacts]
    if not batch:
        return
    from tagcloud.campaigns.channels.smpp import SmppClient, SmppError

    host, port = _smsc()
    try:
        with SmppClient(host, port, system_id="tagcloud-alerts") as client:
            results = client.submit_many([(i, mobile, text) for i, mobile, _ in batch])
    except SmppError as e:
        log.warning("alert %s: SMS not sent: %s", a.pk, e)
        for _i, mobile, u in batch:
            SmsNotice.objects.create(alert=a, recipient=u, mobile=mobile, text=text, status="failed")
        return
    for (_i, mobile, u), r in zip(batch, results, strict=True):
        SmsNotice.objects.create(
            alert=a,
            recipient=u,
            mobile=mobile,
            text=text,
            status=r.status.value,
            message_id=r.message_id or "",
        )
