"""``tagcloud alerts kpis`` and ``tagcloud alerts planted`` on the market province."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from tagcloud.cli import app


def test_kpis_one_day_and_a_bad_day(market_warehouse: dict[str, Any]) -> None:
    wh = market_warehouse["warehouse"]
    day = market_warehouse["store"].days()[-1].isoformat()
    r = CliRunner().invoke(app, ["alerts", "kpis", "-w", str(wh.root), "--day", day])
    assert r.exit_code == 0, r.output
    assert "KPIs: 1 day(s)" in r.output and "KPI rows" in r.output
    r = CliRunner().invoke(app, ["alerts", "kpis", "-w", str(wh.root), "--day", "2031-01-01"])
    assert r.exit_code != 0 and "no calls on 2031-01-01" in r.output
    r = CliRunner().invoke(app, ["alerts", "kpis", "-w", str(wh.root), "--day", "yesterday"])
    assert r.exit_code != 0 and "not a date" in r.output


def test_planted_prints_precision_and_recall(market_warehouse: dict[str, Any], tmp_path: Any) -> None:
    wh = market_warehouse["warehouse"]
    r = CliRunner().invoke(
        app, ["alerts", "planted", "--truth", str(market_warehouse["truth"]), "-w", str(wh.root)]
    )
    assert r.exit_code == 0, r.output
    assert "planted anomalies:" in r.output and "recall" in r.output and "precision" in r.output
    r = CliRunner().invoke(app, ["alerts", "planted", "--truth", str(tmp_path), "-w", str(wh.root)])
    assert r.exit_code != 0 and "--market" in r.output
