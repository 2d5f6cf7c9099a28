"""The model catalogue and runner: every customer model, its 口径, inputs, order and output file.

``run_models(warehouse)`` runs the models in order over the warehouse views and writes each
per-subscriber result to ``WAREHOUSE/models/<name>.parquet`` (``msisdn`` + output columns: the
contract the tag library reads for ``source: model`` tags). Results keyed by something other than
our subscribers (pairs, competitors' numbers, long usage tables) go to
``WAREHOUSE/models/detail/<name>.parquet``. Each later model sees earlier outputs as views named
``model_<name>``. A run log is kept in ``WAREHOUSE/models/_runs.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

Runner = Callable[["duckdb.DuckDBPyConnection", Mapping[str, Any]], "pa.Table"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    zh: str
    definition: str  # 口径: what the output means, in one or two sentences
    module: str  # where the function lives (imported lazily: sklearn, networkx are heavy)
    function: str
    needs: tuple[str, ...]  # warehouse tables
    after: tuple[str, ...] = ()  # models whose output it reads
    per_subscriber: bool = True  # False: keyed by pairs or other operators' numbers → models/detail/

    def runner(self) -> Runner:
        import importlib

        return getattr(importlib.import_module(self.module), self.function)  # type: ignore[no-any-return,unused-ignore]


_LOC = "tagcloud.models.location"
_SEG = "tagcloud.models.segments"
_CUS = "tagcloud.models.customer"
_EVENTS = ("voice_cdr", "sms", "data_xdr", "cells", "calendar")

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("home_work", "居住地/工作地", "Home cell: most night-time (21–7 h) cell-hours; work cell: most "
              "working-hour cell-hours on working days; night-shift workers swapped back by area type.",
              _LOC, "home_work", _EVENTS),
    ModelSpec("internet_usage", "上网行为明细", "Sessions, bytes, seconds and days per subscriber and site, app, "
              "category and content id, from the URL/app rule library.", "tagcloud.models.internet", "usage",
              ("data_xdr",), per_subscriber=False),
    ModelSpec("internet_interest", "上网兴趣偏好", "Mobile-internet records translated by the URL/app rule library; "
              "top category, app, site and content (song, artist, book, game) and interest flags per subscriber.",
              "tagcloud.models.internet", "interests", ("data_xdr",), ("internet_usage",)),
    ModelSpec("students", "校园客户", "Class-time records ≥ 50% on one campus and ≥ 10 calls/SMS with ≥ 2 schoolmates "
              "(seed 003 §3.5); new users joined in the last 60 days.", _SEG, "students",
              (*_EVENTS, "subscribers"), ("home_work",)),
    ModelSpec("migrant_workers", "本网外出务工", "Rural home, ≥ 10 days roaming out, seen home on a festival or "
              "busy-season day, most on-net contacts in the home county (seed 003 §3.3).", _SEG,
              "migrant_workers", (*_EVENTS, "roaming"), ("home_work",)),
    ModelSpec("rural_type", "农村客户类型", "Rural home cell: stay-at-home (work in the same township), works in "
              "the county, works outside the county (seed 003 §3.2).", _SEG, "rural_type", _EVENTS,
              ("home_work", "migrant_workers", "students")),
    ModelSpec("competitor_migrants", "异网外出务工", "Off-net numbers calling our users of one rural township, "
              "≥ 55% in idle hours, ≥ 15 calls in ≥ 3 weeks (seed 003 §3.3).", _SEG, "competitor_migrants",
              _EVENTS, ("home_work",), per_subscriber=False),
    ModelSpec("competitor_students", "异网校园客户", "Off-net numbers in touch with ≥ 2 students of one campus, "
              "≥ 5 times (seed 003 §3.5).", _SEG, "competitor_students", _EVENTS, ("students",),
              per_subscriber=False),
    ModelSpec("family_pairs", "家庭成员对", "Two subscribers sharing a residential night cell with ≥ 20 calls/SMS "
              "on ≥ 14 days, ≥ 9% of the busier one's on-net contacts (seed 003 §3.4).", _SEG, "family_pairs",
              _EVENTS, ("home_work",), per_subscriber=False),
    ModelSpec("families", "家庭客户/家庭V网推荐", "Families = connected family pairs; head = highest spender; "
              "recommend a family plan to families not on a family V-net (seed 000 §6.5).", _SEG, "families",
              (*_EVENTS, "subscribers", "billing_monthly"), ("home_work",)),
    ModelSpec("influence", "影响力得分", "0–100: weighted percent ranks of distinct contacts, contacts' contacts, "
              "originated calls and SMS, data use, among peers of the same home area and age (seed 003 §3.1).",
              _SEG, "influence", ("voice_cdr", "sms", "data_xdr", "subscribers", "cells"), ("home_work",)),
    ModelSpec("tariff_sensitivity", "资费敏感度", "AHP-weighted indicators of brand, group, family net, rural home, "
              "top-ups, spend, discretionary spend, offers and bill queries (seed 000 §6.4).",
              "tagcloud.models.sensitivity", "run",
              ("subscribers", "regions", "billing_monthly", "payments", "orders", "products", "service_contacts")),
    ModelSpec("dual_sim", "疑似双卡", "Rule: smartphone with calls but almost no data on our card; a gradient-"
              "boosting model learns the rule-labelled sample's other features and scores everyone (seed 000 §6.2).",
              _CUS, "dual_sim", ("voice_cdr", "sms", "data_xdr", "subscribers", "subscriber_handsets", "handsets")),
    ModelSpec("churn_warning", "离网预警", "Weighted percent ranks of porting inquiries, fading usage (daily slope), "
              "complaints, calls to rivals and low spend, 0–100.", _CUS, "churn_warning",
              ("voice_cdr", "sms", "data_xdr", "subscribers", "service_contacts")),
    ModelSpec("plan_recommendation", "账单资费推荐", "First of five bill scenarios (voice overage, data overage, 5G "
              "handset on a 4G plan → a plan; small overage, allowance nearly used → a data pack) over the last 3 "
              "bills; the cheapest product covering the usage (seed 000 §6.1).", "tagcloud.models.offers",
              "plan_recommendation", ("subscribers", "billing_monthly", "products", "subscriber_handsets", "handsets")),
    ModelSpec("migration_5g", "4G→5G迁移目标", "Subscribers not on a 5G plan, without the business-averse, handsets "
              "in contract, no-data and new low-value users; k-means segments; a decision tree learned on 5G-plan "
              "users ranks them A/B/C (seed 000 §6.3).", "tagcloud.models.offers", "migration_5g",
              ("subscribers", "billing_monthly", "products", "subscriber_handsets", "handsets", "service_contacts")),
    ModelSpec("contact_response", "接触响应", "Per subscriber and channel, campaign responses ÷ contacts smoothed "
              "towards the channel's overall rate (5 pseudo-contacts); the best channel. Runs when a campaign "
              "ledger is attached (tagcloud models run --campaign-ledger).", "tagcloud.models.response",
              "contact_response", ("campaign_contacts", "campaign_responses")),
    ModelSpec("channel_preference", "渠道偏好", "The channel used most, recency-weighted, for service contacts, "
              "payments and orders (seed 001).", _CUS, "channel_preference",
              ("service_contacts", "payments", "orders")),
)  # fmt: skip
MODEL_INDEX = {m.name: m for m in MODELS}


@dataclass
class RunRecord:
    name: str
    status: str  # ok | skipped | failed
    rows: int = 0
    seconds: float = 0.0
    path: str = ""
    note: str = ""


def model(name: str) -> ModelSpec:
    try:
        return MODEL_INDEX[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; the models are: {', '.join(MODEL_INDEX)}") from None


def _with_dependencies(names: Sequence[str]) -> list[str]:
    want: set[str] = set()

    def add(n: str) -> None:
        if n not in want:
            want.add(n)
            for d in model(n).after:
                add(d)

    for n in names:
        add(n)
    return [m.name for m in MODELS if m.name in want]  # catalogue order is a valid run order


def output_path(warehouse: Path, spec: ModelSpec) -> Path:
    base = Path(warehouse) / "models"
    return base / f"{spec.name}.parquet" if spec.per_subscriber else base / "detail" / f"{spec.name}.parquet"


def _write(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)  # readers never see half a file


def run_models(
    warehouse: str | Path,
    names: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    quiet: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[RunRecord]:
    """Run the named models (all by default, plus what they depend on) and write their outputs."""
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.models.location import ensure_presence
    from tagcloud.progress import job

    wh = Path(warehouse)
    con = con or Warehouse(wh).connect()
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()"
        ).fetchall()
    }
    order = _with_dependencies(list(names) if names else [m.name for m in MODELS])
    unknown = set(params or {}) - set(MODEL_INDEX)
    if unknown:
        raise KeyError(f"parameters given for unknown models {sorted(unknown)}")
    records: list[RunRecord] = []
    failed: set[str] = set()
    with job("models", total=len(order), unit="rows", quiet=quiet) as j:
        for name in order:
            spec = model(name)
            missing = [t for t in spec.needs if t not in present]
            blocked = [d for d in spec.after if d in failed]
            if missing or blocked:
                why = f"warehouse lacks {missing}" if missing else f"needs {blocked}, which did not run"
                records.append(RunRecord(name, "skipped", note=why))
                failed.add(name)
                j.advance(note=f"{name} skipped")
                continue
            t0 = time.perf_counter()
            if any(t in _EVENTS for t in spec.needs) and "cells" in present and "calendar" in present:
                ensure_presence(con)
            table = spec.runner()(con, dict((params or {}).get(name, {})))
            path = output_path(wh, spec)
            _write(table, path)
            con.register(f"model_{name}", table)
            rec = RunRecord(name, "ok", table.num_rows, time.perf_counter() - t0, str(path))
            meta = table.schema.metadata or {}
            rec.note = ", ".join(
                f"{k.decode()}={v.decode()}" for k, v in meta.items() if not k.startswith(b"ARROW")
            )
            records.append(rec)
            j.advance(rows=table.num_rows, note=name)
    log = wh / "models" / "_runs.json"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps([r.__dict__ for r in records], ensure_ascii=False, indent=1), encoding="utf-8")
    return records
