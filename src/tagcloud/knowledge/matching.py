"""The customer–service–channel matching library (客户-业务-渠道匹配库, seed 002).

Which service to offer each subscriber, through which channel, and why. Four layers of evidence in
the seed's priority order (a higher layer's match always ranks above a lower one's):

1. **data-mining models** — one look-alike propensity model per service (the generic trainer
   ``models.propensity.train``) learned on who holds the service; a match is a non-holder in the
   model's top decile, for models whose cross-validated AUC clears ``min_auc``;
2. **marketers' experience** — evidence ``(condition, service, reason)`` from any provider: the rule
   tags of the tag library (campus, white-collar, music fans …) and the wiki's verified quick
   points; each condition goes through the one condition language (``tags.condition``) and is
   compiled to DuckDB over the wide table; evidence whose measured lift is below 1 is dropped;
3. **customer segments** — 27 CRM-style segments (3 brands × 3 value tiers × 3 life stages), each
   with its 3 key services (highest lift of holding in the segment);
4. **brand–service–handset fit** — per brand and handset class (feature phone / 4G smartphone /
   5G smartphone) the 5 services most held there that the handset supports; when all 5 are held
   the brand's next supported service is offered, so every subscriber gets at least one match.

The five dimensions of evidence (value, consumption behaviour, service preference, life track,
handset) are the columns of :data:`FEATURES`. The channel comes from the subscriber's response
history (``contact_response``) or channel preference (``channel_preference``), if reachable.

Everything is columnar: one DuckDB query reads the wide table with every condition compiled into
it, the layers are [subscriber × service] numpy arrays, ranking is one ``argsort`` per row block.
Outputs (``build``): ``WAREHOUSE/matching/matches.parquet`` (one row per subscriber and ranked
match) and ``WAREHOUSE/models/matching.parquet`` (one row per subscriber: ``match_top_service``,
``match_top_channel``, ``match_<service>`` flags), which the tag library turns into tags the
audience engine and campaigns use; :func:`matches_for` is the lookup for touchpoint decisions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from tagcloud.models.propensity import PropensityResult
    from tagcloud.tags.condition import NameInfo


class MatchingError(ValueError):
    """Input the matching library cannot use; the message says what and where."""


class Layer(IntEnum):
    """Evidence layers, in priority order (1 ranks first)."""

    MODEL = 1  # data-mining propensity model per service
    EXPERIENCE = 2  # marketers' experience: rule tags, verified quick points
    SEGMENT = 3  # customer segment's key services
    BRAND_FIT = 4  # brand–service–handset fit (the coverage floor)


LAYER_NAMES = {
    Layer.MODEL: ("数据挖掘模型", "data-mining model"),
    Layer.EXPERIENCE: ("营销经验", "marketers' experience"),
    Layer.SEGMENT: ("客户分群", "customer segment"),
    Layer.BRAND_FIT: ("品牌-业务-终端匹配", "brand–service–handset fit"),
}

# Offer channels (seed 002 lists 14; these are the ones a subscriber can be reached on directly).
# "app" is today's USSD/WAP push: a push to the operator's app.
CHANNELS: tuple[str, ...] = ("sms", "outbound", "10086", "hall", "web_hall", "app", "account_manager")
CHANNEL_NAMES = {
    "sms": ("短信", "SMS"),
    "outbound": ("外呼", "outbound call"),
    "10086": ("10086热线", "10086 hotline"),
    "hall": ("营业厅", "service hall"),
    "web_hall": ("网上营业厅", "web hall"),
    "app": ("手机营业厅推送(WAP/USSD)", "app push (WAP/USSD)"),
    "account_manager": ("客户经理", "account manager"),
}
# The channel a subscriber uses on their own initiative (channel_preference / contact_response)
# → the channel an offer can go out on.
PREFERENCE_TO_CHANNEL = {
    "sms": "sms", "sms_hall": "sms", "bank": "sms", "outbound": "outbound", "10086": "10086",
    "hall": "hall", "agent": "hall", "self_terminal": "hall", "web_hall": "web_hall", "app": "app",
    "account_manager": "account_manager",
}  # fmt: skip

# The five dimensions of evidence (seed 002: 客户价值、消费行为、业务偏好、生活轨迹、终端信息) as wide-table
# columns for the propensity models. Holdings (products_held, holds_*) are left out: they would
# teach a model who already holds, not who would take it.
FEATURES: dict[str, tuple[str, ...]] = {
    "value": ("arpu_3m", "arpu_trend", "plan_fee", "tenure_months", "payment_type", "brand", "age_band"),
    "consumption": ("calls", "call_minutes", "sms_sent", "data_mb", "data_days", "data_mb_per_day",
                    "offnet_call_share", "service_contacts", "topups"),
    "preference": ("top_interest", "songs_played", "books_read", "games_played", "videos_watched",
                   "ringtone_changes", "apps_used", "content_mb", "traffic_radio_caller",
                   "stock_broker_caller"),
    "life_track": ("night_cell_area_type", "day_cell_area_type", "home_is_urban", "roam_days",
                   "call_counties", "circle_size", "is_family_head", "campus_student",
                   "rural_stay_home", "retiree"),
    "handset": ("handset_5g", "handset_os", "handset_price_tier", "handset_age_years"),
}  # fmt: skip
# Columns the segments, handset fit and channel choice read (besides the features).
_CONTEXT = ("brand", "arpu_3m", "age_band", "handset_os", "handset_5g", "status", "complaint_sensitive",
            "service_contacts", "e_channel_user", "cmcc_app_user", "in_group_customer", "high_value",
            "preferred_channel_model")  # fmt: skip

BRANDS = ("gotone", "mzone", "easyown")
BRAND_NAMES = {
    "gotone": ("全球通", "GoTone"),
    "mzone": ("动感地带", "M-Zone"),
    "easyown": ("神州行", "Easy Own"),
}
VALUE_TIERS = (
    ("low", "低价值", "low value"),
    ("mid", "中价值", "mid value"),
    ("high", "高价值", "high value"),
)
LIFE_STAGES = (("young", "青年学生", "young/student"), ("working", "职场", "working age"),
               ("senior", "银发", "senior"))  # fmt: skip
HANDSET_CLASSES = (("feature", "功能机", "feature phone"), ("smart4g", "4G智能机", "4G smartphone"),
                   ("smart5g", "5G智能机", "5G smartphone"))  # fmt: skip


@dataclass(frozen=True)
class Service:
    """A marketable data service of the product catalogue (``products`` table, kind ≠ plan)."""

    service_id: str
    name: str
    name_en: str
    kind: str
    requires_5g: bool

    @property
    def needs_smartphone(self) -> bool:
        # memberships and data packs are used through apps and video: nothing to use on a feature phone
        return self.kind in ("membership", "data_pack", "5g_package") or self.requires_5g

    @property
    def column(self) -> str:
        """The flag column of this service in the per-subscriber table: ``match_<service>``."""
        return "match_" + self.service_id.lower()


@dataclass(frozen=True)
class Evidence:
    """One piece of marketers' experience: subscribers meeting ``condition`` suit ``service``."""

    condition: str
    service: str
    reason: str
    source: str = "rule_tag"  # rule_tag | wiki | …


# The rule-library tags marketers know (seed 002 layer 2: 高校、白领、音乐偏好 …), each with the service
# experience says it leads to. Conditions are in the one condition language.
RULE_TAG_EVIDENCE: tuple[Evidence, ...] = (
    Evidence("campus_student", "FM_CAMPUS", "校园客户: 同学之间打电话多, 校园V网省钱"),
    Evidence("campus_student", "DP_NIGHT", "校园客户: 夜间上网多, 夜间流量包"),
    Evidence("campus_student", "MB_MGTV", "校园客户: 爱看综艺, 芒果TV会员"),
    Evidence("heavy_video_user AND handset_os <> 'feature'", "DP_VIDEO", "视频重度用户: 视频定向流量包"),
    Evidence("heavy_video_user AND handset_os <> 'feature'", "MB_TXV", "视频重度用户: 视频会员"),
    Evidence("heavy_video_user AND handset_os <> 'feature'", "MB_MIGUV", "视频重度用户: 咪咕视频会员"),
    Evidence("short_video_addict", "DP_VIDEO", "短视频沉迷: 视频定向流量包"),
    Evidence("music_fan", "MB_MUSIC", "音乐偏好: 咪咕音乐会员"),
    Evidence("book_lover", "MB_READ", "阅读偏好: 咪咕阅读会员"),
    Evidence("gamer", "DP_10G", "游戏玩家: 大流量包"),
    Evidence("gamer AND handset_5g", "G5_SPEED", "游戏玩家且5G终端: 5G加速包"),
    Evidence("night_surfer", "DP_NIGHT", "夜猫子上网: 夜间流量包"),
    Evidence("car_owner OR traffic_radio_caller", "VAS_CWT", "车主(常拨交通台): 车务通"),
    Evidence("stock_investor OR stock_broker_caller", "VAS_STOCK", "炒股客户(常拨券商热线): 手机证券"),
    Evidence("office_worker AND cbd_worker", "VAS_139", "白领: 商务区上班, 139邮箱"),
    Evidence("business_person OR golf_weekender", "VAS_139", "商务人士: 139邮箱"),
    Evidence("farmer_info_prospect OR rural_stay_home", "VAS_NXT", "农村留守/务农: 农信通"),
    Evidence("news_reader OR retiree", "VAS_NEWS", "爱看新闻/退休: 手机报"),
    Evidence("family_head AND NOT in_family_vnet", "FM_VNET", "家庭户主未入家庭网: 家庭V网"),
    Evidence("family_head", "BB_300M", "家庭户主: 家庭宽带"),
    Evidence("family_head AND high_value", "BB_1000M", "高价值家庭户主: 千兆宽带"),
    Evidence("g5_capable_idle", "G5_UP", "5G终端未用5G: 5G升级包"),
    Evidence("ringtone_changer", "VAS_CRBT", "常换铃音: 彩铃"),
)


def rule_tag_evidence() -> list[Evidence]:
    """Layer-2 evidence from the tag library's rule tags."""
    return list(RULE_TAG_EVIDENCE)


def wiki_evidence(warehouse: str | Path | None = None) -> list[Evidence]:
    """Layer-2 evidence from the knowledge wiki's verified quick points, when the wiki is installed.

    The wiki exposes ``tagcloud.knowledge.wiki.verified_points(warehouse)``; each point is a
    ``(condition, service, reason)`` tuple or an object with ``condition``, ``products`` (or one
    ``service`` / ``product_id``) and ``reason``: one piece of evidence per recommended product.
    Without the wiki there is no such evidence (an empty list).
    """
    try:
        from tagcloud.knowledge.wiki import verified_points  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return []
    out: list[Evidence] = []
    for p in verified_points(warehouse):
        products = getattr(p, "products", None)
        if products and not isinstance(p, Evidence):
            out += [
                Evidence(str(p.condition), str(x), str(getattr(p, "reason", "") or ""), "wiki")
                for x in products
            ]
        else:
            out.append(to_evidence(p, source="wiki"))
    return out


def to_evidence(point: Any, source: str = "wiki") -> Evidence:
    """One provider's item as :class:`Evidence`: a ``(condition, service, reason)`` tuple or an object."""
    if isinstance(point, Evidence):
        return point
    if isinstance(point, tuple | list) and len(point) == 3:
        return Evidence(str(point[0]), str(point[1]), str(point[2]), source)
    cond = getattr(point, "condition", None)
    svc = getattr(point, "service", None) or getattr(point, "product_id", None)
    if cond is None or svc is None:
        raise MatchingError(f"evidence {point!r} has no condition and service")
    return Evidence(str(cond), str(svc), str(getattr(point, "reason", "") or ""), source)


@dataclass
class MatchingConfig:
    top_k: int = 5  # matches kept per subscriber
    min_auc: float = 0.6  # a service's model is evidence only above this cross-validated AUC
    model_share: float = 0.10  # layer-1 match: the top share of the model's scores among non-holders
    min_lift: float = 1.0  # experience with a lower measured lift is dropped
    segment_services: int = 3
    brand_services: int = 5
    min_members: int = 30  # segments and cells smaller than this borrow the brand's figures
    folds: int = 3
    max_iter: int = 100
    max_depth: int | None = 3
    fit_sample: int = 50_000  # layer-1 models learn on at most this many fit subscribers (a random sample)
    seed: int = 0


@dataclass
class Inputs:
    """Everything the layers read, one row per subscriber (in ``msisdn`` order)."""

    msisdn: np.ndarray  # object (str)
    services: list[Service]
    held: np.ndarray  # [n, S] bool: holds the service (last order not an unsubscribe)
    features: pa.Table  # FEATURES columns present in the wide table
    context: dict[str, np.ndarray]  # _CONTEXT columns present
    evidence: list[Evidence]
    evidence_hits: np.ndarray  # [n, E] bool: the subscriber meets evidence e's condition
    rejected: list[tuple[Evidence, str]] = field(default_factory=list)  # evidence that could not be used

    @property
    def n(self) -> int:
        return len(self.msisdn)

    def service_index(self, sid: str) -> int:
        for j, s in enumerate(self.services):
            if s.service_id == sid:
                return j
        raise MatchingError(
            f"unknown service {sid!r}; the services are {[s.service_id for s in self.services]}"
        )

    def supported(self) -> np.ndarray:
        """[n, S] bool: the handset supports the service."""
        os_ = self.context.get("handset_os")
        smart = np.ones(self.n, bool) if os_ is None else (os_ != "feature")
        g5 = self.context.get("handset_5g")
        five = np.zeros(self.n, bool) if g5 is None else g5.astype(bool)
        out = np.ones((self.n, len(self.services)), bool)
        for j, s in enumerate(self.services):
            if s.requires_5g:
                out[:, j] = five
            elif s.needs_smartphone:
                out[:, j] = smart
        return out

    def handset_class(self) -> np.ndarray:
        os_ = self.context.get("handset_os")
        g5 = self.context.get("handset_5g")
        smart = np.ones(self.n, bool) if os_ is None else (os_ != "feature")
        five = np.zeros(self.n, bool) if g5 is None else g5.astype(bool)
        return np.where(~smart, 0, np.where(five, 2, 1)).astype(np.int8)

    def brand_code(self) -> np.ndarray:
        b = self.context["brand"]
        code = np.full(self.n, BRANDS.index("easyown"), np.int8)  # unknown brand: the mass market
        for i, name in enumerate(BRANDS):
            code[b == name] = i
        return code

    def segment(self) -> np.ndarray:
        """Segment code 0–26: brand × value tier (ARPU < 50, < 100, ≥ 100 yuan) × life stage."""
        arpu = np.nan_to_num(self.context["arpu_3m"].astype(float), nan=0.0)
        value = np.digitize(arpu, [50.0, 100.0]).astype(np.int8)
        age = self.context["age_band"]
        stage = np.where(np.isin(age, ["<18", "18-24"]), 0, np.where(np.isin(age, ["55-64", "65+"]), 2, 1))
        return (self.brand_code() * 9 + value * 3 + stage).astype(np.int16)


def segment_label(code: int, lang: str = "zh") -> str:
    b, rest = divmod(int(code), 9)
    v, s = divmod(rest, 3)
    i = 0 if lang == "zh" else 1
    parts = (BRAND_NAMES[BRANDS[b]][i], VALUE_TIERS[v][1 + i], LIFE_STAGES[s][1 + i])
    return "·".join(parts) if lang == "zh" else " / ".join(parts)


def services_of(con: duckdb.DuckDBPyConnection) -> list[Service]:
    """The marketable data services: every product of the ``products`` table that is not a main plan."""
    rows = con.execute(
        "SELECT product_id, name, coalesce(name_en, name), kind, coalesce(requires_5g, false) "
        "FROM products WHERE kind <> 'plan' ORDER BY product_id"
    ).fetchall()
    if not rows:
        raise MatchingError("the products table has no data services (every product is a plan)")
    return [Service(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(
    warehouse: str | Path,
    evidence: Iterable[Evidence] | None = None,
    *,
    wide: str | Path | None = None,
    names: Mapping[str, NameInfo] | None = None,
    as_of: str | None = None,
) -> Inputs:
    """Read the wide table (``WAREHOUSE/wide/current`` unless ``wide`` names another file or folder),
    the services and who holds them (orders), and evaluate every evidence condition.

    ``evidence`` defaults to the rule tags plus the wiki's verified points. A condition that does
    not parse or names an unknown tag is not used: it is kept in ``Inputs.rejected`` with the
    condition language's error, and the rest go on. ``as_of`` ('YYYY-MM-DD'): holdings from the
    orders before that day only (default: every order).
    """
    from tagcloud.data.warehouse import Warehouse

    wh = Path(warehouse)
    con = Warehouse(wh).connect()
    if "products" not in {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}:
        raise MatchingError(f"the warehouse at {wh} has no products table; ingest the reference data first")
    services = services_of(con)
    if names is None:
        from tagcloud.tags.governance import load_effective_catalogue

        names = load_effective_catalogue(wh).names()
    wide_path = Path(wide) if wide else wh / "wide" / "current"
    if evidence is None:
        evidence = rule_tag_evidence() + wiki_evidence(wh)
    return load_tables(con, wide_path, services, evidence, names, as_of)


def load_tables(
    con: duckdb.DuckDBPyConnection,
    wide_path: Path,
    services: list[Service],
    evidence: Iterable[Evidence] | None,
    names: Mapping[str, NameInfo],
    as_of: str | None = None,
) -> Inputs:
    """:func:`load` on an open connection that has an ``orders`` relation (msisdn, product_id,
    action, order_time, order_id)."""
    from tagcloud.tags.condition import ConditionError, parse_condition

    files = sorted(wide_path.glob("*.parquet")) if wide_path.is_dir() else [wide_path]
    if not files or not files[0].exists():
        raise MatchingError(f"no wide table at {wide_path}: run 'tagcloud build' first")
    con.read_parquet([str(f) for f in files]).create_view("match_wide", replace=True)
    cols = {r[0] for r in con.execute("DESCRIBE match_wide").fetchall()}
    if "msisdn" not in cols:
        raise MatchingError(f"the wide table at {wide_path} has no msisdn column")
    feats = [c for d in FEATURES.values() for c in d if c in cols]
    feats = list(dict.fromkeys(feats))
    context = [c for c in _CONTEXT if c in cols]
    for need in ("brand", "arpu_3m", "age_band"):
        if need not in cols:
            raise MatchingError(f"the wide table at {wide_path} has no {need!r} column (segments need it)")
    known = {s.service_id for s in services}
    ev_all = list(evidence) if evidence is not None else rule_tag_evidence()
    usable: list[tuple[Evidence, str]] = []
    rejected: list[tuple[Evidence, str]] = []
    for e in ev_all:
        if e.service not in known:
            rejected.append((e, f"unknown service {e.service!r}"))
            continue
        try:
            c = parse_condition(e.condition, names)
        except ConditionError as err:
            rejected.append((e, str(err).splitlines()[0]))
            continue
        missing = sorted(c.names - cols)
        if c.groups or missing:
            why = f"the wide table has no column {missing[0]!r}" if missing else "uses a saved group"
            rejected.append((e, why))
            continue
        usable.append((e, c.to_sql("duckdb")))
    ev_sql = [f"coalesce(({sql}), false) AS {_q(f'e{i}')}" for i, (_, sql) in enumerate(usable)]
    select = ", ".join(["msisdn", *(_q(c) for c in dict.fromkeys(feats + context)), *ev_sql])
    table = con.sql(f"SELECT {select} FROM match_wide ORDER BY msisdn").to_arrow_table()
    msisdn = np.asarray(table.column("msisdn").to_numpy(zero_copy_only=False), dtype=object)
    hits = np.column_stack(
        [table.column(f"e{i}").to_numpy(zero_copy_only=False).astype(bool) for i in range(len(usable))]
    ) if usable else np.zeros((len(msisdn), 0), bool)  # fmt: skip
    ctx = {c: np.asarray(table.column(c).to_numpy(zero_copy_only=False)) for c in context}
    held = _held(con, table.select(["msisdn"]), services, as_of)
    return Inputs(
        msisdn=msisdn,
        services=services,
        held=held,
        features=table.select(feats),
        context=ctx,
        evidence=[e for e, _ in usable],
        evidence_hits=hits,
        rejected=rejected,
    )


def _held(
    con: duckdb.DuckDBPyConnection, ids: pa.Table, services: list[Service], as_of: str | None = None
) -> np.ndarray:
    """[n, S]: the last order of the service is not an unsubscribe (the products_held 口径)."""
    import pyarrow as pa

    con.register("match_ids", ids.append_column("row", pa.array(np.arange(ids.num_rows, dtype=np.int64))))
    con.register("match_services", pa.table({"product_id": [s.service_id for s in services],
                                             "col": np.arange(len(services), dtype=np.int64)}))  # fmt: skip
    import datetime as dt

    cut = dt.date.fromisoformat(as_of) if as_of else dt.date(9999, 1, 1)
    r = con.execute(
        """
        WITH last AS (
            SELECT msisdn, product_id, arg_max(action, (order_time, order_id)) AS action
            FROM orders WHERE order_time < $cut GROUP BY ALL
        )
        SELECT i."row", s.col FROM last JOIN match_ids i USING (msisdn) JOIN match_services s USING (product_id)
        WHERE last.action <> 'unsubscribe'
        """,
        {"cut": cut},
    ).fetchnumpy()
    held = np.zeros((ids.num_rows, len(services)), bool)
    held[np.asarray(r["row"], np.int64), np.asarray(r["col"], np.int64)] = True
    return held


@dataclass
class ServiceModel:
    """Layer 1 for one service: the model's figures and the cut above which a non-holder is a match."""

    service: str
    status: str  # ok | weak (AUC below min_auc) | too_few (not enough holders to learn from)
    auc: float = 0.0
    lift_top_decile: float = 0.0
    positives: int = 0
    cut: float = 1.0
    result: PropensityResult | None = field(default=None, repr=False)


@dataclass
class Library:
    """The fitted library: what each layer learned on the fit subscribers."""

    services: list[Service]
    config: MatchingConfig
    models: list[ServiceModel]
    evidence: list[Evidence]
    evidence_rate: np.ndarray  # [E]: holding rate of the evidence's service among those meeting it
    evidence_lift: np.ndarray  # [E]
    evidence_kept: np.ndarray  # [E] bool
    segment_services: np.ndarray  # [27, k] service index (-1: none)
    segment_rate: np.ndarray  # [27, k]
    segment_members: np.ndarray  # [27]
    brand_order: np.ndarray  # [3 brands, 3 handset classes, S] services by holding rate, supported first
    brand_rate: np.ndarray  # [3, 3, S] holding rate of each service in the cell
    popular: np.ndarray  # [S] service indices by holding rate, most held first
    fit_rows: int = 0

    def summary(self) -> dict[str, Any]:
        """A JSON-able description of what each layer holds (the library's 口径 per layer)."""
        sid = [s.service_id for s in self.services]
        return {
            "fit_rows": self.fit_rows,
            "config": asdict(self.config),
            "models": [{k: v for k, v in asdict(m).items() if k != "result"} for m in self.models],
            "experience": [
                {
                    "condition": e.condition,
                    "service": e.service,
                    "reason": e.reason,
                    "source": e.source,
                    "rate": round(float(r), 4),
                    "lift": round(float(lift), 3),
                    "kept": bool(k),
                }
                for e, r, lift, k in zip(
                    self.evidence, self.evidence_rate, self.evidence_lift, self.evidence_kept, strict=True
                )
            ],
            "segments": [
                {
                    "segment": g,
                    "name": segment_label(g),
                    "name_en": segment_label(g, "en"),
                    "members": int(self.segment_members[g]),
                    "services": [sid[j] for j in self.segment_services[g] if j >= 0],
                }
                for g in range(27)
            ],
            "brand_fit": {
                f"{b}/{h[0]}": [sid[j] for j in self.brand_order[bi, hi, : self.config.brand_services]]
                for bi, b in enumerate(BRANDS)
                for hi, h in enumerate(HANDSET_CLASSES)
            },
            "popular": [sid[j] for j in self.popular],
        }


def fit(inp: Inputs, rows: np.ndarray | None = None, config: MatchingConfig | None = None) -> Library:
    """Learn every layer on the subscribers ``rows`` (a bool mask or indices; default: all)."""
    import pyarrow as pa

    from tagcloud.models.propensity import PropensityError, train

    cfg = config or MatchingConfig()
    idx = np.arange(inp.n) if rows is None else (np.flatnonzero(rows) if rows.dtype == bool else rows)
    if len(idx) == 0:
        raise MatchingError("no subscribers to fit the library on")
    held = inp.held[idx]
    S = len(inp.services)
    rate = held.mean(axis=0)  # province holding rate of each service (fit rows)

    # Layer 1: one look-alike model per service, on a sample of the fit rows.
    models: list[ServiceModel] = []
    sample = np.arange(len(idx))
    if len(idx) > cfg.fit_sample:
        sample = np.sort(np.random.default_rng(cfg.seed).choice(len(idx), cfg.fit_sample, replace=False))
    feats = inp.features.take(pa.array(idx[sample]))
    for j, s in enumerate(inp.services):
        y = held[sample, j]
        pos = int(y.sum())
        if min(pos, len(y) - pos) < max(cfg.folds, 10):
            models.append(ServiceModel(s.service_id, "too_few", positives=pos))
            continue
        try:
            r = train(
                feats.append_column("label", pa.array(y)).append_column("msisdn", pa.array(sample)),
                "label", name=s.service_id, folds=cfg.folds, max_iter=cfg.max_iter, max_depth=cfg.max_depth,
                seed=cfg.seed,
            )  # fmt: skip
        except PropensityError:
            models.append(ServiceModel(s.service_id, "too_few", positives=pos))
            continue
        oof_nonholder = r.oof_scores[~y.astype(bool)]
        cut = float(np.quantile(oof_nonholder, 1.0 - cfg.model_share)) if len(oof_nonholder) else 1.0
        status = "ok" if r.auc >= cfg.min_auc else "weak"
        models.append(ServiceModel(s.service_id, status, r.auc, r.lift_top_decile, pos, cut, r))

    # Layer 2: experience, measured on the fit rows.
    E = len(inp.evidence)
    ev_rate = np.zeros(E)
    ev_lift = np.zeros(E)
    for e_i, e in enumerate(inp.evidence):
        j = inp.service_index(e.service)
        hit = inp.evidence_hits[idx, e_i]
        if hit.any():
            ev_rate[e_i] = held[hit, j].mean()
            ev_lift[e_i] = ev_rate[e_i] / rate[j] if rate[j] > 0 else 0.0
    ev_kept = (ev_lift >= cfg.min_lift) & (ev_rate > 0)

    # Layer 3: segments and their key services (highest lift, holding rate above the province's).
    seg = inp.segment()[idx]
    members = np.bincount(seg, minlength=27)
    seg_rate = np.zeros((27, S))
    np.add.at(seg_rate, seg, held.astype(float))
    seg_rate = seg_rate / np.maximum(members, 1)[:, None]
    lift = np.where(rate > 0, seg_rate / np.where(rate > 0, rate, 1), 0)
    lift[members < cfg.min_members] = 0  # too small to say
    order = np.argsort(-lift, axis=1, kind="stable")[:, : cfg.segment_services]
    take = np.take_along_axis(lift, order, axis=1) > 1.0
    seg_services = np.where(take, order, -1)
    seg_top_rate = np.where(take, np.take_along_axis(seg_rate, order, axis=1), 0.0)

    # Layer 4: per brand and handset class, services by holding rate (supported ones first).
    brand = inp.brand_code()[idx]
    hcls = inp.handset_class()[idx]
    sup = inp.supported()[idx]
    cell = brand.astype(np.int64) * 3 + hcls
    cnt = np.bincount(cell, minlength=9)
    cell_rate = np.zeros((9, S))
    np.add.at(cell_rate, cell, held.astype(float))
    cell_rate /= np.maximum(cnt, 1)[:, None]
    brand_cnt = np.bincount(brand, minlength=3)
    brand_rate_only = np.zeros((3, S))
    np.add.at(brand_rate_only, brand, held.astype(float))
    brand_rate_only /= np.maximum(brand_cnt, 1)[:, None]
    small = cnt < cfg.min_members
    cell_rate[small] = np.repeat(brand_rate_only, 3, axis=0)[small]
    cell_sup = np.zeros((9, S), bool)
    for c in range(9):  # which services a handset class supports (a class is uniform in this)
        m = cell == c
        cell_sup[c] = sup[m].any(axis=0) if m.any() else np.array(
            [not s.needs_smartphone if c % 3 == 0 else (not s.requires_5g or c % 3 == 2) for s in inp.services]
        )  # fmt: skip
    key = np.where(cell_sup, 0, 1) * 10 - cell_rate  # supported first, then most held
    brand_order = np.argsort(key, axis=1, kind="stable").reshape(3, 3, S)

    return Library(
        services=inp.services,
        config=cfg,
        models=models,
        evidence=inp.evidence,
        evidence_rate=ev_rate,
        evidence_lift=ev_lift,
        evidence_kept=ev_kept,
        segment_services=seg_services,
        segment_rate=seg_top_rate,
        segment_members=members,
        brand_order=brand_order,
        brand_rate=cell_rate.reshape(3, 3, S),
        popular=np.argsort(-rate, kind="stable"),
        fit_rows=len(idx),
    )


@dataclass
class Scored:
    """Every subscriber × service: the best (highest-priority) layer that matched it, its score and reason.

    ``layer`` 0 = no match; ``reason`` indexes ``reasons`` (a small table: one text per layer-1
    service, evidence item, segment × service and brand cell × service)."""

    layer: np.ndarray  # [n, S] int8
    score: np.ndarray  # [n, S] float32, in [0, 1]
    reason: np.ndarray  # [n, S] int32
    reasons: list[tuple[str, str]]  # (zh, en)
    model_score: np.ndarray  # [n, S] float32: layer-1 propensity of every pair (0 if no model)


def model_scores(lib: Library, inp: Inputs) -> np.ndarray:
    """[n, S] float32: every layer-1 model's propensity for every subscriber (0 without a model)."""
    from threadpoolctl import threadpool_limits

    from tagcloud.models.propensity import _matrix

    prop = np.zeros((inp.n, len(inp.services)), np.float32)
    usable = [(j, mm) for j, mm in enumerate(lib.models) if mm.result is not None and mm.status == "ok"]
    if not usable:
        return prop
    x, _ = _matrix(inp.features, usable[0][1].result.features)  # type: ignore[union-attr]  # one matrix for all
    # one OpenMP thread: on a shared machine spinning threads cost more than they save (see propensity)
    with threadpool_limits(limits=1, user_api="openmp"):
        for j, mm in usable:
            prop[:, j] = mm.result.model.predict_proba(x)[:, 1]  # type: ignore[union-attr]
    return prop


def apply(
    lib: Library, inp: Inputs, layers: Sequence[int] = (1, 2, 3, 4), prop: np.ndarray | None = None
) -> Scored:
    """Score every subscriber × service with the chosen layers (held and unsupported pairs excluded).

    ``prop``: the layer-1 model scores if already computed (:func:`model_scores`)."""
    n, S = inp.n, len(inp.services)
    eligible = ~inp.held & inp.supported()
    layer = np.zeros((n, S), np.int8)
    score = np.zeros((n, S), np.float32)
    reason = np.full((n, S), -1, np.int32)
    reasons: list[tuple[str, str]] = []

    def put(lay: int, mask: np.ndarray, sc: np.ndarray, rs: np.ndarray | int) -> None:
        # a pair keeps its highest-priority layer; later (lower) layers only fill the gaps
        new = mask & (layer == 0) & eligible
        layer[new] = lay
        score[new] = sc[new] if isinstance(sc, np.ndarray) and sc.shape == mask.shape else sc
        reason[new] = rs[new] if isinstance(rs, np.ndarray) else rs

    def put_col(lay: int, j: int, mask: np.ndarray, sc: np.ndarray | float, rs: int) -> None:
        # one service's column: the same rule without [n, S] temporaries
        new = mask & (layer[:, j] == 0) & eligible[:, j]
        layer[new, j] = lay
        score[new, j] = sc[new] if isinstance(sc, np.ndarray) else sc
        reason[new, j] = rs

    want = set(layers)
    if prop is None:
        prop = model_scores(lib, inp)
    if Layer.MODEL in want:
        for j, m in enumerate(lib.models):
            if m.status != "ok":
                continue
            s = lib.services[j]
            reasons.append((f"数据挖掘模型: {s.name}倾向得分前{lib.config.model_share:.0%} (AUC {m.auc:.2f})",
                            f"propensity model: top {lib.config.model_share:.0%} for {s.name_en} (AUC {m.auc:.2f})"))  # fmt: skip
            put_col(Layer.MODEL, j, prop[:, j] >= m.cut, prop[:, j], len(reasons) - 1)
    if Layer.EXPERIENCE in want:
        # strongest evidence first, so a pair met by several items carries the best one's reason
        for e_i in np.argsort(-lib.evidence_rate, kind="stable"):
            if not lib.evidence_kept[e_i]:
                continue
            e = lib.evidence[e_i]
            j = inp.service_index(e.service)
            reasons.append((f"营销经验: {e.reason} (命中人群持有率是全省的{lib.evidence_lift[e_i]:.1f}倍)",
                            f"marketers' experience ({e.source}): {e.condition} → {lib.services[j].name_en} "
                            f"(lift {lib.evidence_lift[e_i]:.1f})"))  # fmt: skip
            put_col(
                Layer.EXPERIENCE,
                j,
                inp.evidence_hits[:, e_i],
                float(lib.evidence_rate[e_i]),
                len(reasons) - 1,
            )
    if Layer.SEGMENT in want:
        seg = inp.segment()
        base = len(reasons)
        for g in range(27):
            for k in range(lib.segment_services.shape[1]):
                j = lib.segment_services[g, k]
                name = lib.services[j] if j >= 0 else None
                reasons.append(
                    (f"客户分群: {segment_label(g)}的重点业务{name.name if name else ''}",
                     f"customer segment: key service {name.name_en if name else ''} of {segment_label(g, 'en')}")
                )  # fmt: skip
        svc = lib.segment_services[seg]  # [n, k]
        rate = lib.segment_rate[seg]
        for k in range(svc.shape[1]):
            r_ = np.flatnonzero(svc[:, k] >= 0)
            j_ = svc[r_, k]
            new = (layer[r_, j_] == 0) & eligible[r_, j_]
            r_, j_ = r_[new], j_[new]
            layer[r_, j_] = Layer.SEGMENT
            score[r_, j_] = rate[r_, k]
            reason[r_, j_] = base + seg[r_] * svc.shape[1] + k
    if Layer.BRAND_FIT in want:
        cell = inp.brand_code().astype(np.int64) * 3 + inp.handset_class()
        base = len(reasons)
        for b in BRANDS:
            for h in HANDSET_CLASSES:
                for s in lib.services:
                    reasons.append((f"品牌-业务-终端匹配: {BRAND_NAMES[b][0]}{h[1]}适配业务{s.name}",
                                    f"brand–service–handset fit: {s.name_en} suits {BRAND_NAMES[b][1]} on a {h[2]}"))  # fmt: skip
        order = lib.brand_order.reshape(9, S)[cell]  # [n, S] services of the subscriber's cell, best first
        rate = lib.brand_rate.reshape(9, S)[cell]
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(S)[None, :].repeat(n, 0), axis=1)  # rank of each service
        key_fit = rank < lib.config.brand_services
        # the coverage floor: with every key service held, the next eligible one of the brand's list
        need = ~(key_fit & eligible & (layer == 0)).any(axis=1) & ~(layer > 0).any(axis=1)
        ranked_elig = np.take_along_axis(eligible, order, axis=1)
        first = np.where(ranked_elig.any(axis=1), ranked_elig.argmax(axis=1), -1)
        extra = np.zeros((n, S), bool)
        rows = np.flatnonzero(need & (first >= 0))
        extra[rows, order[rows, first[rows]]] = True
        rs = (base + cell[:, None] * S + np.arange(S)[None, :]).astype(np.int32)
        put(Layer.BRAND_FIT, key_fit | extra, rate.astype(np.float32), rs)
    return Scored(layer, score, reason, reasons, prop)


@dataclass
class Ranked:
    """The top ``k`` matches of every subscriber, best first (service -1: no match at that rank)."""

    service: np.ndarray  # [n, k] int
    layer: np.ndarray  # [n, k] int8
    score: np.ndarray  # [n, k] float32
    reason: np.ndarray  # [n, k] int32

    @property
    def top(self) -> np.ndarray:
        return self.service[:, 0]

    def coverage(self) -> float:
        return float((self.service[:, 0] >= 0).mean()) if len(self.service) else 0.0


def rank(sc: Scored, k: int = 5) -> Ranked:
    """Order each subscriber's matches: higher-priority layer first, then higher score."""
    key = np.where(sc.layer > 0, sc.layer.astype(np.float32) * 2.0 - sc.score, np.inf)
    k = min(k, key.shape[1])
    part = np.argpartition(key, k - 1, axis=1)[:, :k] if k < key.shape[1] else np.tile(
        np.arange(key.shape[1]), (key.shape[0], 1)
    )  # fmt: skip
    order = np.take_along_axis(
        part, np.argsort(np.take_along_axis(key, part, axis=1), axis=1, kind="stable"), 1
    )
    ok = np.isfinite(np.take_along_axis(key, order, axis=1))
    return Ranked(
        service=np.where(ok, order, -1),
        layer=np.where(ok, np.take_along_axis(sc.layer, order, 1), 0).astype(np.int8),
        score=np.where(ok, np.take_along_axis(sc.score, order, 1), 0).astype(np.float32),
        reason=np.where(ok, np.take_along_axis(sc.reason, order, 1), -1).astype(np.int32),
    )


def choose_channel(inp: Inputs, response_channel: np.ndarray | None = None) -> np.ndarray:
    """The offer channel of every subscriber (an index into :data:`CHANNELS`).

    The subscriber's own channel — the best responding one from campaign history when there is
    one, else the channel preference (what they use on their own initiative) — if they can be
    reached there: SMS needs an active number, outbound calls no complaint sensitivity, 10086 an
    inbound caller, the web hall an e-channel user, the app a smartphone. A high-value group
    customer without a usable preference gets the account manager; everyone else SMS (a suspended
    number: the hall).
    """
    n = inp.n
    ctx = inp.context

    def flag(name: str, default: bool) -> np.ndarray:
        v = ctx.get(name)
        return np.full(n, default) if v is None else np.asarray(v == True)  # noqa: E712 (None → False)

    active = ctx["status"] == "active" if "status" in ctx else np.ones(n, bool)
    smart = ctx["handset_os"] != "feature" if "handset_os" in ctx else np.ones(n, bool)
    calls_in = (
        (np.nan_to_num(ctx["service_contacts"].astype(float)) > 0)
        if "service_contacts" in ctx
        else np.zeros(n, bool)
    )
    pref_raw = ctx.get("preferred_channel_model")
    pref = np.full(n, -1, np.int64)
    if pref_raw is not None:
        for raw, ch in PREFERENCE_TO_CHANNEL.items():
            pref[pref_raw == raw] = CHANNELS.index(ch)
    if response_channel is not None:
        for raw, ch in PREFERENCE_TO_CHANNEL.items():
            pref[response_channel == raw] = CHANNELS.index(ch)
    reach = np.column_stack([
        active,  # sms
        active & ~flag("complaint_sensitive", False),  # outbound
        calls_in | (pref == CHANNELS.index("10086")),  # 10086: they call us
        np.ones(n, bool),  # hall
        flag("e_channel_user", False) | (pref == CHANNELS.index("web_hall")),  # web hall
        smart & (flag("cmcc_app_user", False) | (pref == CHANNELS.index("app"))),  # app push
        flag("in_group_customer", False) & flag("high_value", False),  # account manager
    ])  # fmt: skip
    usable = (pref >= 0) & reach[np.arange(n), np.maximum(pref, 0)]
    fallback = np.where(reach[:, 6], 6, np.where(active, 0, 3))
    return np.where(usable, pref, fallback).astype(np.int8)


def response_channels(warehouse: Path, msisdn: np.ndarray) -> np.ndarray | None:
    """The best responding channel per subscriber from ``models/contact_response.parquet``, if it exists."""
    import duckdb
    import pyarrow as pa

    path = Path(warehouse) / "models" / "contact_response.parquet"
    if not path.exists():
        return None
    con = duckdb.connect()
    con.register("ids", pa.table({"msisdn": pa.array(msisdn.astype(str)), "row": np.arange(len(msisdn))}))
    r = con.execute(
        "SELECT i.row, c.best_response_channel FROM read_parquet(?) c JOIN ids i USING (msisdn)", [str(path)]
    ).fetchnumpy()
    out = np.full(len(msisdn), None, dtype=object)
    out[np.asarray(r["row"], np.int64)] = np.asarray(r["best_response_channel"], dtype=object)
    return out


@dataclass
class BuildSummary:
    subscribers: int
    services: int
    matches: int
    coverage: float
    by_layer: dict[str, int]  # top matches per layer
    seconds: float
    rejected: list[str]
    paths: list[str]

    def line(self) -> str:
        layers = ", ".join(f"{k} {v:,}" for k, v in self.by_layer.items())
        return (
            f"matching: {self.subscribers:,} subscribers × {self.services} services → {self.matches:,} matches, "
            f"coverage {self.coverage:.1%}; top match by layer: {layers}; {self.seconds:.1f} s"
        )


def tables(inp: Inputs, sc: Scored, rk: Ranked, channel: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """(matches: one row per subscriber × ranked match, per-subscriber: top match and service flags)."""
    import pyarrow as pa

    n = rk.service.shape[0]
    valid = rk.service >= 0
    rows, ranks = np.nonzero(valid)
    svc = rk.service[rows, ranks]
    sid = pa.array([s.service_id for s in inp.services])
    zh = pa.array([r[0] for r in sc.reasons], pa.string())
    en = pa.array([r[1] for r in sc.reasons], pa.string())
    ch_names = pa.array(list(CHANNELS))
    msisdn = pa.array(inp.msisdn.astype(str))
    reason_idx = pa.array(rk.reason[rows, ranks].astype(np.int32))
    matches = pa.table(
        {
            "msisdn": msisdn.take(pa.array(rows)),
            "rank": pa.array((ranks + 1).astype(np.int8)),
            "service_id": pa.DictionaryArray.from_arrays(pa.array(svc.astype(np.int32)), sid),
            "channel": pa.DictionaryArray.from_arrays(pa.array(channel[rows].astype(np.int32)), ch_names),
            "layer": pa.array(rk.layer[rows, ranks]),
            "score": pa.array(rk.score[rows, ranks].round(4)),
            "reason": pa.DictionaryArray.from_arrays(reason_idx, zh),
            "reason_en": pa.DictionaryArray.from_arrays(reason_idx, en),
        }
    )
    top = rk.service[:, 0]
    has = top >= 0
    cols: dict[str, Any] = {
        "msisdn": msisdn,
        "match_top_service": pa.array(np.where(has, np.array([s.service_id for s in inp.services], object)[np.maximum(top, 0)], None), pa.string()),
        "match_top_channel": pa.array(np.where(has, np.array(CHANNELS, object)[channel], None), pa.string()),
        "match_top_layer": pa.array(np.where(has, rk.layer[:, 0], 0).astype(np.int8)),
        "match_count": pa.array(valid.sum(axis=1).astype(np.int8)),
    }  # fmt: skip
    in_list = np.zeros((n, len(inp.services)), bool)
    in_list[rows, svc] = True
    for j, s in enumerate(inp.services):
        cols[s.column] = pa.array(in_list[:, j])
    return matches, pa.table(cols)


def build(
    warehouse: str | Path,
    evidence: Iterable[Evidence] | None = None,
    config: MatchingConfig | None = None,
    *,
    quiet: bool = True,
) -> BuildSummary:
    """Fit every layer on the whole province, match every subscriber and write the tables."""
    from tagcloud.models.propensity import write_model_output
    from tagcloud.progress import job

    t0 = time.perf_counter()
    wh = Path(warehouse)
    cfg = config or MatchingConfig()
    with job("matching", total=4, unit="steps", quiet=quiet) as j:
        inp = load(wh, evidence)
        j.advance(rows=1, note="inputs")
        lib = fit(inp, config=cfg)
        j.advance(rows=1, note="fit")
        sc = apply(lib, inp)
        rk = rank(sc, cfg.top_k)
        channel = choose_channel(inp, response_channels(wh, inp.msisdn))
        j.advance(rows=1, note="ranked")
        matches, per_sub = tables(inp, sc, rk, channel)
        out = wh / "matching"
        out.mkdir(parents=True, exist_ok=True)
        _write(matches, out / "matches.parquet")
        p2 = write_model_output(per_sub, wh, "matching")
        summary = lib.summary()
        summary["rejected_evidence"] = [
            {"condition": e.condition, "service": e.service, "source": e.source, "error": why}
            for e, why in inp.rejected
        ]
        (out / "library.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
        j.advance(rows=1, note="written")
    by_layer = {LAYER_NAMES[Layer(v)][1]: int((rk.layer[:, 0] == v).sum()) for v in (1, 2, 3, 4)}
    return BuildSummary(
        subscribers=inp.n,
        services=len(inp.services),
        matches=matches.num_rows,
        coverage=rk.coverage(),
        by_layer=by_layer,
        seconds=time.perf_counter() - t0,
        rejected=[f"{e.condition} → {e.service}: {why}" for e, why in inp.rejected],
        paths=[str(out / "matches.parquet"), str(p2)],
    )


def _write(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)  # readers never see half a file


@dataclass(frozen=True)
class Match:
    """One ranked offer for one subscriber."""

    rank: int
    service_id: str
    channel: str
    layer: int
    score: float
    reason: str
    reason_en: str


def matches_for(msisdn: str, warehouse: str | Path | None = None) -> list[Match]:
    """The ranked matches of one subscriber (best first); an empty list for an unknown number.

    For touchpoint decisions: one parameterised DuckDB lookup over ``WAREHOUSE/matching/matches.parquet``.
    """
    import duckdb

    from tagcloud.audience.paths import warehouse_root

    path = warehouse_root(Path(warehouse) if warehouse else None) / "matching" / "matches.parquet"
    if not path.exists():
        raise MatchingError(f"no matching library at {path}: run 'tagcloud matching build' first")
    rows = (
        duckdb.connect()
        .execute(
            "SELECT rank, service_id::VARCHAR, channel::VARCHAR, layer, score, reason::VARCHAR, reason_en::VARCHAR "
            "FROM read_parquet(?) WHERE msisdn = ? ORDER BY rank",
            [str(path), str(msisdn)],
        )
        .fetchall()
    )
    return [Match(int(r[0]), r[1], r[2], int(r[3]), float(r[4]), r[5], r[6]) for r in rows]
