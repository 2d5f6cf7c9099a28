"""The matching library's report (seed 002): the hit-rate table against the planted acceptance and
per-service figures (province-wide, from the last ``tagcloud matching evaluate``), and how the
subscribers in the user's region are matched — top service and channel counts from the audience
engine, with the user's region scope ANDed in. Needs ``build_audience`` (the library is a targeting
tool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from tagcloud.web.engine import NoIndex, engine_for
from tagcloud.web.views.access import require, scope
from tagcloud.web.warehouse import warehouse_dir


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return None


def _regional(request: HttpRequest) -> dict[str, Any] | None:
    """Top-match counts per service and channel among the subscribers in the user's scope."""
    from tagcloud.knowledge.matching import CHANNEL_NAMES

    try:
        eng = engine_for(request)
    except NoIndex:
        return None
    col = eng.index.columns.get("match_top_service")
    chan = eng.index.columns.get("match_top_channel")
    if not col or not chan:
        return None
    en = (get_language() or "zh").startswith("en")
    # values come from the index's own enum (not from the request), so the conditions are ours
    services = [(v, eng.count(f"match_top_service = '{v}'")) for v in col.get("values") or []]
    channels = [
        (CHANNEL_NAMES.get(v, (v, v))[1 if en else 0], eng.count(f"match_top_channel = '{v}'"))
        for v in chan.get("values") or []
    ]
    return {
        "total": sum(c for _, c in services),  # everyone has a top match (coverage 100%)
        "services": sorted(((s, c) for s, c in services if c), key=lambda x: -x[1]),
        "channels": sorted(((s, c) for s, c in channels if c), key=lambda x: -x[1]),
    }


@require("build_audience")
def report(request: HttpRequest) -> HttpResponse:
    """The report page."""
    from tagcloud.knowledge.matching import LAYER_NAMES, Layer

    wh = warehouse_dir()
    ev = _read(wh / "matching" / "evaluation.json")
    lib = _read(wh / "matching" / "library.json")
    en = (get_language() or "zh").startswith("en")
    sc = scope(request)
    context = {
        "evaluation": ev,
        "ratios": (ev or {}).get("ratios"),
        "library": lib,
        "layers": [LAYER_NAMES[Layer(i)][1 if en else 0] for i in (1, 2, 3, 4)],
        "regional": _regional(request),
        "scope_label": (sc.label_en or sc.label) if en else sc.label,
    }
    return render(request, "matching/report.html", context)
