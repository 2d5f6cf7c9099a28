"""The touchpoint decider as the web platform runs it: one per process, over the campaign database
(ledger, campaign store, rule store), the contact memory (``TOUCHPOINT_MEMORY``: ``sqlite:///…``
by default in the var dir, ``redis://…`` at scale) and the published wide table's columns the
decisions read. Reopened when the wide table's build or a setting changes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from tagcloud.realtime.decide import Decider, Fallback, ModelOffer

_lock = threading.Lock()
_cached: dict[str, Any] = {}

# Offers the customer models make at every touchpoint (the wide table's model columns).
DEFAULT_MODEL_OFFERS: tuple[ModelOffer, ...] = (
    ModelOffer(
        "PL_FAMILY",
        "家庭V网 / family V-net",
        "family_plan_prospect_model",
        "您的家人都在用移动, 办理家庭V网互打免费 (尾号{msisdn_tail})",
    ),
)
DEFAULT_FALLBACK = Fallback(
    "APP_SELF_SERVICE", "中国移动APP / the operator's app", "推荐下载中国移动APP, 查询办理更方便"
)


def memory_url() -> str:
    url = str(getattr(settings, "TOUCHPOINT_MEMORY", "") or "")
    return url or f"sqlite:///{Path(settings.VAR_DIR) / 'touchpoint-memory.db'}"


def _values() -> dict[str, float]:
    from tagcloud.web.reference.models import Product

    return {
        p: float(f)
        for p, f in Product.objects.exclude(monthly_fee=None).values_list("product_id", "monthly_fee")
    }


def _wide_build() -> str:
    from tagcloud.tags import current_meta
    from tagcloud.web.warehouse import warehouse_dir

    try:
        return str(current_meta(warehouse_dir())["build_id"])
    except FileNotFoundError:
        return ""


def decider() -> Decider:
    """The process's decider (built on first use; rebuilt when the settings or the build change)."""
    from tagcloud.web.campaigns import service

    key = f"{service.db_url()}|{memory_url()}|{_wide_build()}|{getattr(settings, 'TOUCHPOINT_BUDGET_MS', 50)}"
    with _lock:
        if _cached.get("key") == key:
            return _cached["decider"]
        old = _cached.pop("decider", None)
        if old is not None:
            old.ledger.close()
            old.memory.close()
        _cached["decider"] = d = _build()
        _cached["key"] = key
        return d


def forget() -> None:
    """Drop the cached decider (tests, settings changes)."""
    with _lock:
        old = _cached.pop("decider", None)
        _cached.pop("key", None)
        if old is not None:
            old.ledger.close()
            old.memory.close()


def _build() -> Decider:
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import CampaignStore
    from tagcloud.realtime.engine import SubscriberTable
    from tagcloud.realtime.memory import open_memory
    from tagcloud.realtime.rulestore import RuleStore
    from tagcloud.web.campaigns import service
    from tagcloud.web.warehouse import warehouse_dir

    url = service.db_url()
    store = CampaignStore(url)
    designs: dict[str, Any] = {}

    def design(cid: str) -> Any:
        # approved campaigns are locked, so a design read once stays right while the campaign runs
        if cid not in designs:
            try:
                designs[cid] = store.design(cid)
            except KeyError:
                designs[cid] = None
        return designs[cid]

    names: dict[str, Any] | None = None
    load = None
    wh = warehouse_dir()
    if _wide_build():
        from tagcloud.tags import current_names

        names = current_names(wh)
        known = set(names)

        def load(columns: set[str]) -> SubscriberTable:
            return SubscriberTable.from_warehouse(wh, sorted(c for c in columns if c in known))

    offers = [m for m in getattr(settings, "TOUCHPOINT_MODEL_OFFERS", DEFAULT_MODEL_OFFERS)]
    if names is not None:
        offers = [m for m in offers if m.column in names]
    return Decider(
        ContactLedger(url),
        open_memory(memory_url()),
        designs=design,
        rules=RuleStore(url),
        model_offers=offers,
        propensity=dict(getattr(settings, "TOUCHPOINT_PROPENSITY", {})),
        values=_values(),
        fallback=getattr(settings, "TOUCHPOINT_FALLBACK", DEFAULT_FALLBACK),
        budget_ms=float(getattr(settings, "TOUCHPOINT_BUDGET_MS", 50)),
        names=names,
        load_subscribers=load,
    )
