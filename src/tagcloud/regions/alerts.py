"""KPI alerts (异动指标分析监控, seed 003 §2.1): rules, their evaluation, the closed loop and the
drill-down that explains an alert.

* A **rule** (:class:`RuleSpec`) watches one KPI over a set of regions (or cells) and one channel,
  with a threshold of one :class:`ThresholdKind`: the value itself, its change against yesterday /
  the same day last week / the same day last month, or a robust anomaly score (the distance from
  the median of its own history in MADs). :func:`evaluate` checks many rules over many regions in
  one vectorised pass per KPI and returns the :class:`Breach` es.
* The **loop** (:func:`transition`): raised → the reporter 汇报 (or 修改并汇报 after a return) →
  each reviewer in turn 同意并上报 or 退回修改 → the final owner 结束流程 or 退回修改 → tracking
  (the KPI's course for ``tracking_days``) → history. Every participant may comment at any state.
  The shortest chain is a reporter, one reviewer (上级负责人) and a final owner
  (:func:`chain_problems`).
* The **drill-down** (:func:`drill_down`): the change between the alert day and its baseline, split
  by sub-region, channel, brand, product and plan, each part ranked by its contribution (what the
  KPI would have been had that part alone stayed at its baseline), as ThirdEye does.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.regions.kpi import ALL_CHANNELS, Kpi, KpiError, KpiStore, get_kpi

if TYPE_CHECKING:
    import pandas as pd


class ThresholdKind(StrEnum):
    """What a rule compares with its threshold."""

    ABSOLUTE = "absolute"  # the KPI's value (e.g. share < 70)
    CHANGE_DAY = "change_day"  # % change against yesterday
    CHANGE_WEEK = "change_week"  # % change against the same day last week
    CHANGE_MONTH = "change_month"  # % change against the same day last month
    ANOMALY = "anomaly"  # robust z-score against the KPI's own history (median, MAD)


BASELINE_DAYS = {ThresholdKind.CHANGE_DAY: 1, ThresholdKind.CHANGE_WEEK: 7, ThresholdKind.CHANGE_MONTH: 28}
OPERATORS = ("<", "<=", ">", ">=")
MIN_HISTORY = 5  # an anomaly score needs at least this many past values


class AlertState(StrEnum):
    """Where an alert is in its loop."""

    RAISED = "raised"  # waiting for the reporter's analysis (汇报)
    RETURNED = "returned"  # sent back to the reporter to revise (退回修改)
    IN_REVIEW = "in_review"  # at the reviewer numbered ``step`` (同意并上报 / 退回修改)
    AT_OWNER = "at_owner"  # with the final owner (结束流程 / 退回修改)
    TRACKING = "tracking"  # closed; the KPI's course is followed for the tracking days (跟踪期)
    HISTORY = "history"  # tracking over (历史预警), searchable


OPEN_STATES = frozenset({AlertState.RAISED, AlertState.RETURNED, AlertState.IN_REVIEW, AlertState.AT_OWNER})
CLOSED_STATES = frozenset({AlertState.TRACKING, AlertState.HISTORY})


class AlertAction(StrEnum):
    """What a participant does; the Chinese words are the seed's buttons."""

    REPORT = "report"  # 汇报
    REVISE_AND_REPORT = "revise"  # 修改并汇报
    APPROVE = "approve"  # 同意并上报
    RETURN = "return"  # 退回修改
    CLOSE = "close"  # 结束流程
    COMMENT = "comment"  # 信息反馈 (any participant, any state)
    RAISE = "raise"  # the alert was raised (by a rule or by hand)
    END_TRACKING = "end_tracking"  # the tracking days are over


class Role(StrEnum):
    REPORTER = "reporter"
    REVIEWER = "reviewer"
    OWNER = "owner"


class AlertFlowError(ValueError):
    """An action that is not allowed now (the message says why)."""


@dataclass(frozen=True)
class Turn:
    """Whose turn it is: a role and, for reviewers, the position in the chain."""

    role: Role
    step: int = 0


def whose_turn(state: AlertState, step: int) -> Turn | None:
    """The participant who must act in ``state`` (None when closed)."""
    if state in (AlertState.RAISED, AlertState.RETURNED):
        return Turn(Role.REPORTER)
    if state == AlertState.IN_REVIEW:
        return Turn(Role.REVIEWER, step)
    if state == AlertState.AT_OWNER:
        return Turn(Role.OWNER)
    return None


def transition(
    state: AlertState, step: int, reviewers: int, action: AlertAction, actor: Turn | None, text: str = ""
) -> tuple[AlertState, int]:
    """The state and reviewer step after ``actor`` does ``action``; AlertFlowError if not allowed.

    ``actor`` is the role the acting user holds in this alert's chain (None: not a participant)."""
    if actor is None:
        raise AlertFlowError("only the people of this alert's chain can act on it")
    if action == AlertAction.COMMENT:
        if not text.strip():
            raise AlertFlowError("a comment needs text")
        return state, step
    turn = whose_turn(state, step)
    if turn is None:
        raise AlertFlowError(f"the alert is {state.value}: its loop is closed, only comments are possible")
    if actor != turn:
        raise AlertFlowError(
            f"it is the {turn.role.value}'s turn{f' (reviewer {turn.step + 1})' if turn.role == Role.REVIEWER else ''}, not yours"
        )
    if action in (AlertAction.REPORT, AlertAction.REVISE_AND_REPORT):
        if action == AlertAction.REPORT and state == AlertState.RETURNED:
            raise AlertFlowError("the alert was returned: revise the report (修改并汇报)")
        if action == AlertAction.REVISE_AND_REPORT and state == AlertState.RAISED:
            raise AlertFlowError("nothing to revise yet: report (汇报) first")
        if not text.strip():
            raise AlertFlowError("a report needs the analysis of the cause")
        return (AlertState.IN_REVIEW, 0) if reviewers > 0 else (AlertState.AT_OWNER, 0)
    if action == AlertAction.RETURN:
        if not text.strip():
            raise AlertFlowError("say why it is returned")
        if state not in (AlertState.IN_REVIEW, AlertState.AT_OWNER):
            raise AlertFlowError("only a reviewer or the final owner can return an alert")
        return AlertState.RETURNED, 0
    if action == AlertAction.APPROVE:
        if state != AlertState.IN_REVIEW:
            raise AlertFlowError("only a reviewer approves (同意并上报); the final owner closes")
        return (AlertState.IN_REVIEW, step + 1) if step + 1 < reviewers else (AlertState.AT_OWNER, 0)
    if action == AlertAction.CLOSE:
        if state != AlertState.AT_OWNER:
            raise AlertFlowError("only the final owner closes the loop (结束流程)")
        return AlertState.TRACKING, 0
    raise AlertFlowError(f"{action.value} is not an action a participant takes")


@dataclass(frozen=True)
class Person:
    """A member of a handling chain as the rule's checks see them."""

    key: Any  # the user id
    name: str
    can_handle: bool  # holds handle_alert
    covers: bool  # the rule's region lies in their scope


def chain_problems(reporter: Person | None, reviewers: Sequence[Person], owner: Person | None) -> list[str]:
    """Why a handling chain cannot be saved ([] when it can): the shortest chain has a reporter, a
    superior (reviewer) and a final owner; nobody twice; each may handle alerts of the region."""
    problems = []
    if reporter is None:
        problems.append("the chain has no reporter (汇报负责人)")
    if not reviewers:
        problems.append(
            "the chain has no reviewer (上级负责人): the shortest chain is reporter, reviewer, final owner"
        )
    if owner is None:
        problems.append("the chain has no final owner (最终负责人)")
    people = [p for p in (reporter, *reviewers, owner) if p is not None]
    seen: set[Any] = set()
    for p in people:
        if p.key in seen:
            problems.append(f"{p.name} appears twice in the chain")
        seen.add(p.key)
        if not p.can_handle:
            problems.append(f"{p.name} may not handle alerts (permission handle_alert)")
        if not p.covers:
            problems.append(f"{p.name} cannot see the rule's region (outside their scope)")
    return problems


# --- rules and their evaluation ----------------------------------------------------------------
@dataclass(frozen=True)
class RuleSpec:
    """What the evaluator needs of a rule: its id, KPI, places, channel and threshold."""

    rule_id: Any
    kpi: str
    region_ids: tuple[str, ...]  # the regions (or cells) watched
    kind: ThresholdKind
    operator: str
    threshold: float
    channel: str = ALL_CHANNELS
    min_volume: float = 0.0  # skip a place whose volume (denominator, or value for a sum) is below
    history_days: int = 14

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise KpiError(f"operator {self.operator!r} is not one of {' '.join(OPERATORS)}")
        get_kpi(self.kpi)


@dataclass(frozen=True)
class Breach:
    """A rule fired for one place on one day."""

    rule_id: Any
    kpi: str
    region_id: str
    level: str
    channel: str
    day: dt.date
    value: float | None
    baseline: float | None  # the compared value (yesterday, last week …, or the history's median)
    metric: float  # what was compared with the threshold (value, % change or z-score)
    kind: ThresholdKind
    operator: str
    threshold: float
    numerator: float
    denominator: float | None


def _compare(metric: np.ndarray, op: str, threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return {
            "<": metric < threshold,
            "<=": metric <= threshold,
            ">": metric > threshold,
            ">=": metric >= threshold,
        }[op]


def robust_z(value: np.ndarray, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust z-score of each row's value against its history row (NaN = missing): (value - median)
    / (1.4826 · MAD), the MAD floored by the mean absolute deviation and then by 1 unit, so a flat
    history does not make every change infinite. Returns (z, median); z is NaN with too little history."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without history give NaN, as intended
        med = np.nanmedian(history, axis=1)
        dev = np.abs(history - med[:, None])
        mad = 1.4826 * np.nanmedian(dev, axis=1)
        mean_dev = 1.2533 * np.nanmean(dev, axis=1)
        scale = np.where(mad > 0, mad, np.where(mean_dev > 0, mean_dev, 1.0))
        z = (value - med) / scale
    enough = np.sum(~np.isnan(history), axis=1) >= MIN_HISTORY
    return np.where(enough, z, np.nan), med


def _matrix(
    store: KpiStore, kpi: Kpi, channel: str, days: list[dt.date], regions: Sequence[str]
) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(regions, levels, value, numerator, denominator) as [region × day] arrays; a place without
    events on a day counts 0 for a sum (no payment is zero revenue) and is missing for a ratio."""
    import pandas as pd

    t = store.values(kpi.kpi_id, days, channel=channel, region_ids=regions)
    df = t.to_pandas()
    shape = (len(regions), len(days))
    fill = 0.0 if kpi.denominator is None else np.nan
    value, num, den = np.full(shape, fill), np.zeros(shape), np.full(shape, np.nan)
    levels = [""] * len(regions)
    if len(df):
        # columns, not rows: positions from categorical codes and day offsets
        ri = pd.Categorical(df["region_id"], categories=list(regions)).codes
        dj = (pd.to_datetime(df["day"]) - pd.Timestamp(days[0])).dt.days.to_numpy()
        value[ri, dj] = df["value"].to_numpy(dtype=float, na_value=np.nan)
        num[ri, dj] = df["numerator"].to_numpy(dtype=float, na_value=np.nan)
        den[ri, dj] = df["denominator"].to_numpy(dtype=float, na_value=np.nan)
        first = df.drop_duplicates("region_id")
        lv = np.array(levels, dtype=object)
        lv[pd.Categorical(first["region_id"], categories=list(regions)).codes] = first["level"].to_numpy()
        levels = lv.tolist()
    return list(regions), levels, value, num, den


def evaluate(rules: Sequence[RuleSpec], store: KpiStore, day: dt.date) -> list[Breach]:
    """Check ``rules`` on ``day``; the breaches, by rule then region. Rules on the same KPI and
    channel share one read of the KPI table and one vectorised comparison per rule."""
    out: list[Breach] = []
    groups: dict[tuple[str, str], list[RuleSpec]] = {}
    for r in rules:
        groups.setdefault((r.kpi, r.channel), []).append(r)
    for (kpi_id, channel), rs in groups.items():
        kpi = get_kpi(kpi_id)
        depth = max(max(r.history_days for r in rs), 28)
        days = [day - dt.timedelta(days=i) for i in range(depth, -1, -1)]  # oldest … today (last)
        regions = sorted({x for r in rs for x in r.region_ids})
        names, levels, value, num, den = _matrix(store, kpi, channel, days, regions)
        pos = {r: i for i, r in enumerate(names)}
        for rule in rs:
            rows = np.array([pos[x] for x in rule.region_ids], np.int64)
            v = value[rows, -1]
            volume = num[rows, -1] if kpi.denominator is None else den[rows, -1]
            if rule.kind == ThresholdKind.ABSOLUTE:
                base = np.full(len(rows), np.nan)
                metric = v
                vol_ok = np.nan_to_num(volume) >= rule.min_volume
            elif rule.kind in BASELINE_DAYS:
                base = value[rows, -1 - BASELINE_DAYS[rule.kind]]
                with np.errstate(all="ignore"):
                    metric = (v - base) / np.abs(base) * 100.0
                base_vol = (
                    num[rows, -1 - BASELINE_DAYS[rule.kind]]
                    if kpi.denominator is None
                    else den[rows, -1 - BASELINE_DAYS[rule.kind]]
                )
                vol_ok = np.maximum(np.nan_to_num(volume), np.nan_to_num(base_vol)) >= rule.min_volume
            else:
                hist = value[rows, -1 - rule.history_days : -1]
                metric, base = robust_z(v, hist)
                hist_vol = (num if kpi.denominator is None else den)[rows, -1 - rule.history_days : -1]
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    vol_ok = (
                        np.maximum(np.nan_to_num(volume), np.nan_to_num(np.nanmedian(hist_vol, axis=1)))
                        >= rule.min_volume
                    )
            fired = np.flatnonzero(
                _compare(metric, rule.operator, rule.threshold) & vol_ok & ~np.isnan(metric)
            )
            for i in fired.tolist():
                at = int(rows[i])
                out.append(
                    Breach(
                        rule.rule_id, kpi_id, names[at], levels[at], channel, day,
                        None if np.isnan(v[i]) else float(v[i]), None if np.isnan(base[i]) else float(base[i]),
                        float(metric[i]), rule.kind, rule.operator, rule.threshold,
                        float(np.nan_to_num(num[at, -1])), None if np.isnan(den[at, -1]) else float(den[at, -1]),
                    )
                )  # fmt: skip
    return out


def baseline_day(day: dt.date, kind: ThresholdKind | str) -> dt.date:
    """The day an alert's change is measured from (last week's for absolute and anomaly rules)."""
    return day - dt.timedelta(days=BASELINE_DAYS.get(ThresholdKind(kind), 7))


# --- drill-down --------------------------------------------------------------------------------
DRILL_DIMENSIONS = ("sub_region", "channel", "brand", "product_id", "plan_id")
UNATTRIBUTED = "—"  # events without the dimension (a rival's number has no channel, brand or plan of ours)
_CHILD = {"province": "city_id", "city": "county_id", "county": "township_id", "township": "cell_id"}
_OWN = {"city": "city_id", "county": "county_id", "township": "township_id", "cell": "cell_id"}


@dataclass
class DrillRow:
    dimension: str
    member: str
    value_now: float | None
    value_base: float | None
    effect: float  # how much of the KPI's change this member accounts for (KPI units)
    share: float  # effect / total change (1.0 = all of it)


@dataclass
class Explanation:
    kpi: str
    region_id: str
    day: dt.date
    base_day: dt.date
    value_now: float | None
    value_base: float | None
    rows: list[DrillRow] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        if self.value_now is None or self.value_base is None:
            return None
        return self.value_now - self.value_base

    def top(self, dimension: str, n: int = 5) -> list[DrillRow]:
        return [r for r in self.rows if r.dimension == dimension][:n]


def _sums(df: pd.DataFrame, kpi: Kpi, by: str | None) -> pd.DataFrame:
    import pandas as pd

    from tagcloud.tags.condition import parse_condition  # noqa: F401  (conditions already compiled)

    cols = {"n": kpi.numerator, "d": kpi.denominator}
    parts = {}
    for name, m in cols.items():
        if m is None:
            continue
        mask = df["__n" if name == "n" else "__d"]
        w = df[m.measure].where(mask, 0.0)
        parts[name] = w.groupby(df[by].fillna("unknown")).sum() if by else pd.Series([w.sum()], ["*"])
    return pd.DataFrame(parts).fillna(0.0)


def drill_down(
    store: KpiStore,
    kpi_id: str,
    level: str,
    region_id: str,
    day: dt.date,
    base_day: dt.date,
    channel: str = ALL_CHANNELS,
) -> Explanation:
    """Split the KPI's change for ``region_id`` between ``base_day`` and ``day`` by sub-region,
    channel, brand, product and plan; rows ranked by their contribution to the change."""
    import pandas as pd

    kpi = get_kpi(kpi_id)
    con = store.connect()
    where_parts = [m.condition().to_sql() for m in (kpi.numerator, kpi.denominator) if m is not None]
    sql = (
        f"SELECT *, ({where_parts[0]}) AS __n, "
        f"({where_parts[1] if len(where_parts) > 1 else 'FALSE'}) AS __d FROM kpi_events "
        "WHERE day IN (?, ?) AND (" + " OR ".join(f"({w})" for w in where_parts) + ")"
    )
    params: list[object] = [day.isoformat(), base_day.isoformat()]
    if level != "province":
        sql += f" AND {_OWN[level]} = ?"
        params.append(region_id)
    if channel != ALL_CHANNELS:
        sql += " AND channel = ?"
        params.append(channel)
    try:
        df = con.execute(sql, params).df()
    except Exception as e:  # no events stored yet
        raise KpiError(f"no KPI events to drill into: {e}") from e
    df["__n"] = df["__n"].fillna(False).astype(bool)
    df["__d"] = df["__d"].fillna(False).astype(bool)
    df["sub_region"] = df[_CHILD[level]] if level in _CHILD else None
    now, base = df[df["day"] == pd.Timestamp(day)], df[df["day"] == pd.Timestamp(base_day)]
    if now.empty and base.empty:
        now = df[df["day"].astype(str) == day.isoformat()]
        base = df[df["day"].astype(str) == base_day.isoformat()]

    def ratio(n: float, d: float | None) -> float | None:
        if kpi.denominator is None:
            return n * kpi.scale
        return None if not d else n * kpi.scale / d

    tn, tb = _sums(now, kpi, None), _sums(base, kpi, None)
    n_now, n_base = float(tn["n"].sum()), float(tb["n"].sum())
    d_now = float(tn["d"].sum()) if "d" in tn else None
    d_base = float(tb["d"].sum()) if "d" in tb else None
    v_now, v_base = ratio(n_now, d_now), ratio(n_base, d_base)
    exp_ = Explanation(kpi_id, region_id, day, base_day, v_now, v_base)
    total = exp_.change
    if v_now is None or total is None:
        return exp_
    for dim in DRILL_DIMENSIONS:
        if dim == "sub_region" and level not in _CHILD:
            continue
        a, b = _sums(now, kpi, dim), _sums(base, kpi, dim)
        members = a.index.union(b.index)
        a, b = a.reindex(members, fill_value=0.0), b.reindex(members, fill_value=0.0)
        rows = []
        for m in members:
            # the KPI had this member alone stayed at its baseline
            n_alt = n_now - a.at[m, "n"] + b.at[m, "n"]
            d_alt = None if d_now is None else d_now - a.at[m, "d"] + b.at[m, "d"]
            alt = ratio(n_alt, d_alt)
            effect = v_now - alt if alt is not None else 0.0
            rows.append(
                DrillRow(
                    dim, str(m),
                    ratio(float(a.at[m, "n"]), float(a.at[m, "d"]) if d_now is not None else None),
                    ratio(float(b.at[m, "n"]), float(b.at[m, "d"]) if d_now is not None else None),
                    float(effect), float(effect / total) if total else 0.0,
                )
            )  # fmt: skip
        rows.sort(key=lambda r: -r.share)
        exp_.rows.extend(rows)
    return exp_


def explanation_dict(e: Explanation, names: Mapping[str, str] | None = None, n: int = 8) -> dict[str, Any]:
    """An explanation as JSON (stored with the alert): the top members of each dimension."""
    names = names or {}
    return {
        "kpi": e.kpi,
        "day": e.day.isoformat(),
        "base_day": e.base_day.isoformat(),
        "value_now": e.value_now,
        "value_base": e.value_base,
        "change": e.change,
        "dimensions": {
            dim: [
                {
                    "member": r.member,
                    "label": names.get(r.member, r.member) if r.member != "unknown" else UNATTRIBUTED,
                    "value_now": r.value_now,
                    "value_base": r.value_base,
                    "effect": r.effect,
                    "share": r.share,
                }
                for r in e.top(dim, n)
            ]
            for dim in DRILL_DIMENSIONS
            if e.top(dim, 1)
        },
    }


def headline_parts(
    e: Explanation, names: Mapping[str, str] | None = None
) -> tuple[str, float, list[str]] | None:
    """(dimension, share, members): the top members (up to 3) of the first dimension that explain
    part of the change, and the share of the change they explain together; None if nothing does."""
    names = names or {}
    for dim in DRILL_DIMENSIONS:
        top = [r for r in e.top(dim, 3) if 0 < r.share <= 1.0]
        if top and e.change:
            return dim, min(1.0, sum(r.share for r in top)), [names.get(r.member, r.member) for r in top]
    return None


def headline(e: Explanation, names: Mapping[str, str] | None = None) -> str:
    """One sentence for the reporter: how much of the change the top members of the first
    dimension explain, e.g. "71% of the change: 3 sub region (…)"."""
    parts = headline_parts(e, names)
    if parts is None:
        return ""
    dim, share, who = parts
    return f"{share:.0%} of the change: {len(who)} {dim.replace('_', ' ')} ({', '.join(who)})"
