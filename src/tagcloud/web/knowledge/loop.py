"""The loop back (知识的再锻造, slide 38): the campaigns designed from a point, each with its
state and its measured acceptance vs control from the campaign evaluation
(``tagcloud.campaigns.evaluate``), so a point's page shows whether its knowledge sells."""

from __future__ import annotations

from typing import Any


def campaign_results(uses: list[Any]) -> list[dict[str, Any]]:
    """One row per use (newest first): campaigns get their state and, once they ran, the
    evaluation's action/control rates, lift and p-value; other uses are listed as they are."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for u in uses:
        row: dict[str, Any] = {"kind": u.kind, "ref": u.ref, "by": u.username, "at": u.at}
        if u.kind == "campaign" and u.ref:
            if u.ref in seen:
                continue
            seen.add(u.ref)
            row.update(_evaluated(u.ref))
        out.append(row)
    return out


def _evaluated(campaign_id: str) -> dict[str, Any]:
    from tagcloud.web.campaigns import service
    from tagcloud.web.engine import base_engine

    try:
        with service.open_store() as store:
            c = store.get(campaign_id)
    except Exception:  # no campaign database yet, or the design was never saved
        return {"state": "not saved"}
    row: dict[str, Any] = {"state": str(c.get("state") or ""), "name": c.get("name", "")}
    if row["state"] not in ("running", "finished"):
        return row  # nothing sent yet: nothing to measure
    try:
        _, r = service.evaluation(campaign_id, base_engine())
    except Exception as e:  # not run yet: nothing to measure
        row["note"] = str(e).split("\n")[0][:200]
        return row
    o = r.overall
    row.update(
        {
            "action_n": o.action_n,
            "action_rate": o.action_rate,
            "control_n": o.control_n,
            "control_rate": o.control_rate,
            "lift": o.lift,
            "p_value": o.p_value,
        }
    )
    return row
