"""Quick modes of the benchmarks in bench/, so they cannot rot. Never asserts wall-clock figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.bench
def test_dpi_quick() -> None:
    r = _load("dpi").main(["--quick"])
    assert r.records == 200_000
    assert r.false_positives_engine == 0 and r.wrong_site == 0 and r.wrong_content == 0
    # The look-alike hosts really are traps: the naive substring matcher falls for them.
    assert r.false_positives_baseline > 0


@pytest.mark.bench
def test_ingest_quick() -> None:
    r = _load("ingest").main(["--quick"])
    # the generated export is valid: every row read is accepted, and the baseline really ran
    assert r.rows > 20_000 and r.accepted == r.rows and r.quarantined == 0
    assert r.baseline_seconds > 0 and set(r.per_table) >= {"voice_cdr", "data_xdr", "billing_monthly"}


@pytest.mark.bench
def test_audience_quick(tmp_path: Path) -> None:
    r = _load("audience").main(["--quick", "--cache", str(tmp_path), "--conditions", "4"])
    assert r.rows == 200_000 and r.tags > 200
    # every count the benchmark timed was the same in the engine, DuckDB, Polars and the dense floor
    assert r.counts_agree
    assert r.profile_columns == 100 and r.profile_members > 0
    # ClickHouse (chDB) answered the same questions over the same index
    assert r.chdb_export_seconds > 0 and r.chdb_count_p50_ms > 0 and r.chdb_range_p50_ms > 0


@pytest.mark.bench
def test_simulate_quick() -> None:
    r = _load("simulate").main(["--quick"])
    assert r.subscribers == 3_000 and r.days == 3
    assert r.per_table["subscribers"] == 3_000 and r.per_table["data_xdr"] > 50_000
    # the baseline really wrote the same files, and memory was sampled
    assert r.baseline_seconds > 0 and r.peak_rss_mb > 0
    assert set(r.generation_seconds) == {
        "voice_cdr",
        "sms",
        "data_xdr",
        "roaming",
        "payments",
        "service_contacts",
    }


@pytest.mark.bench
def test_campaign_quick() -> None:
    r = _load("campaign").main(["--quick"])
    # the list really went through the policy: exclusions of every kind and a held-out control
    d = r.list_decisions["sqlite"]
    assert d["reserved"] > 0.8 * r.target * 0.9 and d["do_not_disturb"] > 0 and d["holds_offer"] > 0
    assert r.violations == 0 and r.sms_sent == 1_000
    assert r.single_rate["sqlite"] > 0 and r.sms_raw_rate > 0


@pytest.mark.bench
def test_web_quick() -> None:
    # An audience count through the web (request → rendered fragment) against the library. Its own
    # process: the benchmark sets up Django with its own database, which this test run already has.
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, str(BENCH / "web.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["requests"] == 20 and r["counts_agree"], out.stdout
    assert r["web_p50_ms"] > 0 and r["http_p50_ms"] > 0 and r["library_p50_ms"] > 0


@pytest.mark.bench
@pytest.mark.spark
@pytest.mark.slow
def test_build_quick() -> None:
    r = _load("build").main(["--quick"])
    assert r.subscribers == 300 and r.wide_rows > 250 and r.columns > 900
    # the baseline really read the window, the build scanned it, and Spark built the same table
    assert r.baseline_seconds > 0 and r.rows_scanned > 10_000
    # the translation was timed on its own, over every xDR record of the window
    assert r.translate_seconds > 0 and r.translated_rows > 1_000
    assert r.spark_seconds is not None and r.identical is True
    # 300 subscribers in slices of 100: three ranges, the same table as every source in one piece
    assert r.slices == 3 and r.one_piece_seconds is not None and r.one_piece_identical is True


@pytest.mark.bench
def test_customer_quick() -> None:
    r = _load("customer").main(["--quick"])
    # every looked-up number has calls and data in the window, and the baseline really ran
    assert r.lookups == 10 and r.sections_found == 10
    assert r.xdr_rows == 2_000 * 10 * 10 and r.baseline_p50_ms > 0


@pytest.mark.bench
def test_campaign_web_quick() -> None:
    # A campaign run and its evaluation through the web against the library; its own process, as
    # the benchmark sets up Django with its own database.
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, str(BENCH / "campaign_web.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # both paths really sent their county's SMS over SMPP, and both evaluations ran
    assert r["target"] > 0 and r["sms_web"] > 0 and r["sms_library"] > 0, out.stdout
    assert r["evaluation_page_ms"] > 0 and r["evaluate_ms"] > 0


@pytest.mark.bench
def test_cluster_quick() -> None:
    r = _load("cluster").main(["--quick"])
    # the same rows in both layouts gave the same wide table; both builds really ran every source
    assert r.subscribers > 250 and r.rows > 10_000 and r.identical is True
    assert r.clustered_seconds > 0 and r.arrival_seconds > 0 and "voice" in r.sources


@pytest.mark.bench
def test_hotareas_quick(tmp_path: Path) -> None:
    r = _load("hotareas").main(["--quick", "--cache", str(tmp_path)])
    assert r.rows == 200_000 and r.area_cells > 1 and r.area_members > 0
    # the engine's hot-area members are exactly what DuckDB finds scanning the wide table
    assert r.counts_agree and r.audience_members > 0 and r.duckdb_ms > 0


@pytest.mark.bench
def test_realtime_quick() -> None:
    r = _load("realtime").main(["--quick"])
    assert r.subscribers == 50_000 and r.rules == 200 and r.events == 20_000
    # the engine and the DuckDB baseline found the same (event, rule) pairs, and some exist
    assert r.pairs_engine == r.pairs_duckdb > 0
    assert r.engine_rate > 0 and r.duckdb_rate > 0 and r.parse_rate > 0
    if r.js_skipped is None:  # a JetStream server answered: every event went through it
        assert r.js_events == 3_000 and r.js_rate > 0 and r.js_latency_ms
    assert r.rule_contacts > 0 and r.batch_contacts > r.rule_contacts and r.acceptance_ratio > 0


@pytest.mark.bench
def test_regions_quick() -> None:
    r = _load("regions").main(["--quick"])
    assert r.subscribers == 3_000 and r.events > 1_000 and r.kpi_rows > 1_000
    # one GROUPING SETS pass and one GROUP BY per KPI × level gave the same table
    assert r.kpis_agree and r.kpi_baseline_seconds > 0
    # the vectorised evaluator and one DuckDB query per rule found the same breaches (and some)
    assert r.regions == 5_000 and r.rules == 5 and r.breaches > 0 and r.breaches_agree


@pytest.mark.bench
def test_knowledge_quick() -> None:
    # Wiki search (FTS5 trigram vs a LIKE scan) and a point's live count; its own process, as the
    # benchmark sets up Django with its own database.
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, str(BENCH / "knowledge.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["points"] == 2_000 and r["queries"] > 0
    # both searches ran and found the same points (checked query by query); some queries hit
    assert r["fts_p95_ms"] > 0 and r["like_p95_ms"] > 0, out.stdout
    assert r["hits"]["nothing-here"] == 0 and r["hits"]["车主"] > 0
    # the page's live count, the engine's count and the published knowledge tag's count agree
    assert r["counts_agree"], out.stdout


@pytest.mark.bench
def test_matching_quick() -> None:
    r = _load("matching").main(["--quick"])
    # every subscriber got a match, and the row-by-row baseline gave the same top service and channel
    assert r.subscribers == 20_000 and r.services >= 20 and r.coverage == 1.0
    assert r.agree and r.baseline_rows == 2_000 and r.baseline_seconds > 0


@pytest.mark.bench
def test_realtime_decide_quick() -> None:
    # decide in process and over HTTP (wrk) against today's touchpoint answer; its own process, as
    # the benchmark sets up Django with its own database
    import json
    import subprocess

    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "realtime_decide.py"),
            "--quick",
            "--decisions",
            "300",
            "--duration",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # decisions really ran against the seeded campaign, rule and models, on every backend present
    assert r["in_process"]["sqlite"]["requests"] == 300 and r["in_process_baseline"]["requests"] == 300
    assert r["offers_per_decision"] > 0 and r["county_subscribers"] > 0
    assert set(r["in_process"]) == set(r["backends"])
    if r["http"]:  # wrk present: the API answered, without errors, on both endpoints
        figures = [*r["http"].values(), *r["http_baseline"].values()]
        assert all(f["requests"] > 0 and f["errors"] == 0 for f in figures)


@pytest.mark.bench
def test_robustness_quick() -> None:
    r = _load("robustness").main(["--quick"])
    # every family and the generated drops really ran and held the law: 0 crashes, 0 rows lost
    assert r.breaches == [] and r.total("crashes") == 0 and r.total("rows lost") == 0
    assert r.total("inputs") > 40 and r.total("rows read") > 1_000
    assert r.total("quarantined") > 0 and r.total("normalised") > 0 and r.total("refused whole") > 0
    # the baseline really read the same files and was fooled by some of them
    assert r.total("DuckDB: rows") > 0 and r.total("DuckDB: files failed") > 0


@pytest.mark.bench
def test_models_quick() -> None:
    r = _load("models").main(["--quick"])
    assert r.subscribers == 3_000 and r.audience > 1_000 and r.train_rows > 1_000
    assert set(r.rankings) == {
        "propensity", "uplift two_model", "uplift class_transformation", "random", "planted (oracle)",
    }  # fmt: skip
    # the planted effects are heterogeneous with a negative segment, and nothing beats the oracle
    oracle = r.rankings["planted (oracle)"]
    assert oracle.sleeping_dogs == 0 and r.rankings["random"].sleeping_dogs > 0.05
    assert all(x.incremental <= oracle.incremental + 1e-9 for x in r.rankings.values())
    assert r.ratio > 0 and r.train_action_rate > 0 and r.train_control_rate > 0
