"""Every model on a small simulated province, measured against the simulator's ground truth.

One simulate → ingest → run → evaluate pass shared by the tests of this module (slow: ~1 min).
Targets are the issue's where this small province meets them reliably; the full-size figures are
in docs/models.md.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tagcloud.models.evaluate import Metric, evaluate
from tagcloud.models.registry import MODELS, run_models

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Metric], list]:  # type: ignore[type-arg]
    from tagcloud.data.ingest import ingest
    from tagcloud.sim.simulate import simulate

    root = tmp_path_factory.mktemp("province")
    simulate(root / "out", subscribers=2000, days=30, seed=3, quiet=True)
    ingest(root / "out", root / "wh")
    records = run_models(root / "wh", quiet=True)
    return root, evaluate(root / "wh", root / "out" / "ground_truth"), records


def _m(metrics: list[Metric], model: str, metric: str) -> float:
    return next(m.value for m in metrics if m.model == model and m.metric == metric)


def test_every_model_ran_and_wrote_its_file(province: tuple[Path, list[Metric], list]) -> None:  # type: ignore[type-arg]
    root, _, records = province
    assert [r.name for r in records] == [m.name for m in MODELS]
    # contact_response needs a campaign ledger, which a fresh province does not have
    status = {r.name: (r.status, r.note) for r in records}
    assert status.pop("contact_response")[0] == "skipped"
    assert all(st == "ok" for st, _ in status.values()), status
    for m in MODELS:
        if m.name == "contact_response":
            continue
        sub = "" if m.per_subscriber else "detail/"
        t = pq.read_table(root / "wh" / "models" / f"{sub}{m.name}.parquet")
        assert t.num_rows > 0
        if m.per_subscriber:  # the tag library's contract: msisdn + output columns, one row each
            assert t.column_names[0] == "msisdn"
            assert len(set(t.column("msisdn").to_pylist())) == t.num_rows


def test_location_and_special_markets_meet_targets(province: tuple[Path, list[Metric], list]) -> None:  # type: ignore[type-arg]
    _, metrics, _ = province
    assert _m(metrics, "home_work", "home cell exact") >= 0.92
    assert _m(metrics, "home_work", "work cell exact") >= 0.85
    assert _m(metrics, "rural_type", "macro-F1") >= 0.85
    assert _m(metrics, "migrant_workers", "precision") >= 0.90
    assert _m(metrics, "migrant_workers", "recall") >= 0.80
    assert _m(metrics, "migrant_workers", "business travellers taken for migrants") <= 0.05
    assert _m(metrics, "migrant_workers", "students taken for migrants") <= 0.05
    assert _m(metrics, "students", "F1") >= 0.90
    assert _m(metrics, "family_pairs", "pair F1") >= 0.80  # 0.85 on the 5,000-subscriber province
    assert _m(metrics, "dual_sim", "AUC") >= 0.85


def test_scores_carry_signal(province: tuple[Path, list[Metric], list]) -> None:  # type: ignore[type-arg]
    _, metrics, _ = province
    # 0.81 on the 5,000-subscriber province (docs/models.md); the small one ranks a little less well
    assert _m(metrics, "influence", "Spearman with planted influence") > 0.7
    # churn decided after the window: a learned model approaches, and cannot beat, the planted AUC
    planted = _m(metrics, "churn", "AUC of the planted probabilities")
    learned = _m(metrics, "churn", "CV AUC, attributes before the first churn day")
    assert 0.55 < learned < planted + 0.03
    # both over the same rows: the planted figure is the one the model is measured against
    n = {m.metric: m.n for m in metrics if m.model == "churn"}
    assert n["AUC of the planted probabilities"] == n["CV AUC, attributes before the first churn day"] > 0
    # the churn dates fall after the 30 simulated days: every one of them is detail before the cut
    assert _m(metrics, "churn", "days of detail before the cut") == 30
    # the rule sees only pre-decision signs now (0.90 when churn was in progress inside the window)
    assert _m(metrics, "churn_warning", "AUC (rule score)") > 0.55
    assert _m(metrics, "tariff_sensitivity", "Spearman with value tier (expected negative)") < 0
    assert _m(metrics, "internet_interest", "interest flags macro-F1") > 0.5
    # Offers go to people likelier than average to take them (the simulator's planted propensities).
    assert (
        _m(metrics, "plan_recommendation", "planted acceptance of the recommended product ÷ its mean") > 1.0
    )
    assert _m(metrics, "migration_5g", "planted 5G-plan acceptance, tier A ÷ tier C") > 1.0


def test_evaluate_prints_dev_and_test_side_by_side(
    province: tuple[Path, list[Metric], list], tmp_path: Path
) -> None:  # type: ignore[type-arg]
    from typer.testing import CliRunner

    from tagcloud.cli import app

    root, _, _ = province
    truth, wh = str(root / "out" / "ground_truth"), str(root / "wh")
    report = tmp_path / "r.md"
    r = CliRunner().invoke(
        app,
        ["models", "evaluate", "--truth", truth, "--warehouse", wh, "--test-truth", truth, "--test-warehouse", wh,
         "--report", str(report)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "| model | metric | dev | test | target | met (test) | n (test) |"
    home = next(x for x in lines if "| home cell exact |" in x).split("|")
    assert home[3] == home[4] and float(home[3]) > 0.9  # the same province twice: the same figure
    r = CliRunner().invoke(
        app, ["models", "evaluate", "--truth", truth, "--warehouse", wh, "--test-truth", truth]
    )
    assert r.exit_code != 0 and "go together" in r.output
