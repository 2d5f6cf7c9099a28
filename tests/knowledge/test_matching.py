"""The matching library on hand-made subscribers: layer priority, coverage, ranking, channel choice,
evidence through the condition language, and the evaluation's arithmetic on a hand-computed case."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tagcloud.knowledge import matching as m
from tagcloud.knowledge import matching_eval as ev
from tagcloud.tags.condition import names_from_kinds

SERVICES = [
    m.Service("MB_MUSIC", "咪咕音乐会员", "Migu Music", "membership", False),
    m.Service("VAS_CWT", "车务通", "car service", "vas", False),
    m.Service("G5_UP", "5G升级包", "5G upgrade", "5g_package", True),
]


def inputs(n: int, **over: object) -> m.Inputs:
    ctx: dict[str, np.ndarray] = {
        "brand": np.array(["easyown"] * n, object),
        "arpu_3m": np.full(n, 60.0),
        "age_band": np.array(["35-44"] * n, object),
        "handset_os": np.array(["android"] * n, object),
        "handset_5g": np.ones(n, bool),
        "status": np.array(["active"] * n, object),
    }
    ctx.update(over.pop("context", {}))  # type: ignore[call-overload]
    base = {
        "msisdn": np.array([f"1380000{i:04d}" for i in range(n)], object),
        "services": SERVICES,
        "held": np.zeros((n, len(SERVICES)), bool),
        "features": pa.table({"x": np.zeros(n)}),
        "context": ctx,
        "evidence": [],
        "evidence_hits": np.zeros((n, 0), bool),
    }
    base.update(over)
    return m.Inputs(**base)  # type: ignore[arg-type]


def library(inp: m.Inputs, **over: object) -> m.Library:
    """A library with no usable model (layer 1 empty) and layers 2–4 as given."""
    S = len(inp.services)
    base = {
        "services": inp.services,
        "config": m.MatchingConfig(brand_services=1),
        "models": [m.ServiceModel(s.service_id, "too_few") for s in inp.services],
        "evidence": inp.evidence,
        "evidence_rate": np.full(len(inp.evidence), 0.2),
        "evidence_lift": np.full(len(inp.evidence), 2.0),
        "evidence_kept": np.ones(len(inp.evidence), bool),
        "segment_services": np.full((27, 1), -1),
        "segment_rate": np.zeros((27, 1)),
        "segment_members": np.zeros(27, np.int64),
        "brand_order": np.tile(np.arange(S), (3, 3, 1)),  # every cell: MB_MUSIC, VAS_CWT, G5_UP
        "brand_rate": np.full((3, 3, S), 0.05),
        "popular": np.arange(S),
    }
    base.update(over)
    return m.Library(**base)  # type: ignore[arg-type]


def test_a_higher_layer_ranks_first_whatever_the_scores() -> None:
    ev_car = m.Evidence("car_owner", "VAS_CWT", "车主")
    inp = inputs(2, evidence=[ev_car], evidence_hits=np.array([[True], [False]]))
    seg = np.full((27, 1), -1)
    g = int(inp.segment()[0])
    seg[g, 0] = 0  # the segment's key service: MB_MUSIC, with a higher score than the evidence
    lib = library(inp, segment_services=seg, segment_rate=np.where(seg >= 0, 0.9, 0.0),
                  config=m.MatchingConfig(brand_services=3))  # fmt: skip
    r = m.rank(m.apply(lib, inp), 3)
    assert r.service[0].tolist()[:2] == [1, 0] and r.layer[0].tolist()[:2] == [2, 3]
    assert r.service[1, 0] == 0 and r.layer[1, 0] == 3  # no experience: the segment's service first
    assert r.layer[0, 2] == 4  # the 5G pack only as brand fit


def test_a_pair_keeps_its_highest_layer_and_that_layers_reason() -> None:
    e = m.Evidence("car_owner", "VAS_CWT", "车主")
    inp = inputs(1, evidence=[e], evidence_hits=np.array([[True]]))
    lib = library(inp, brand_order=np.tile(np.array([1, 0, 2]), (3, 3, 1)))  # VAS_CWT is also brand fit
    sc = m.apply(lib, inp)
    assert sc.layer[0, 1] == 2
    assert "车主" in sc.reasons[sc.reason[0, 1]][0]


def test_held_and_unsupported_services_are_never_offered() -> None:
    held = np.array([[True, False, False], [False, False, False]])
    inp = inputs(2, held=held, context={"handset_5g": np.array([True, False])})
    lib = library(inp, config=m.MatchingConfig(brand_services=3))
    r = m.rank(m.apply(lib, inp), 3)
    assert 0 not in r.service[0].tolist()  # held
    assert 2 not in r.service[1].tolist()  # 5G pack on a 4G handset
    assert sorted(r.service[0][r.service[0] >= 0].tolist()) == [1, 2]
    assert sorted(r.service[1][r.service[1] >= 0].tolist()) == [0, 1]


def test_brand_fit_covers_everyone_who_does_not_hold_everything() -> None:
    # the brand's one key service (MB_MUSIC) is held by subscriber 0: the next supported one is offered
    held = np.array([[True, False, False], [False, False, False], [True, True, True]])
    inp = inputs(3, held=held, context={"handset_os": np.array(["android", "feature", "ios"], object)})
    r = m.rank(m.apply(library(inp), inp), 5)
    assert r.service[0, 0] == 1 and r.layer[0, 0] == 4
    assert r.service[1, 0] == 1  # feature phone: no membership, no 5G pack → 车务通
    assert r.service[2, 0] == -1  # holds all three: nothing to offer, and it is counted so
    assert r.coverage() == pytest.approx(2 / 3)


def test_ranking_within_a_layer_follows_the_score() -> None:
    evs = [m.Evidence("a", "MB_MUSIC", "a"), m.Evidence("b", "VAS_CWT", "b")]
    inp = inputs(1, evidence=evs, evidence_hits=np.array([[True, True]]))
    lib = library(inp, evidence_rate=np.array([0.1, 0.3]))
    r = m.rank(m.apply(lib, inp, (2,)), 2)
    assert r.service[0].tolist() == [1, 0]
    assert r.score[0].tolist() == pytest.approx([0.3, 0.1])


def test_single_layers_leave_gaps_and_layers_add_coverage() -> None:
    e = m.Evidence("car_owner", "VAS_CWT", "车主")
    inp = inputs(2, evidence=[e], evidence_hits=np.array([[True], [False]]))
    lib = library(inp)
    assert m.rank(m.apply(lib, inp, (2,)), 1).coverage() == 0.5
    assert m.rank(m.apply(lib, inp, (2, 4)), 1).coverage() == 1.0


def test_channel_preference_if_reachable_else_fallbacks() -> None:
    ctx = {
        "preferred_channel_model": np.array(
            ["app", "app", "web_hall", "outbound", None, None, "agent"], object
        ),
        "handset_os": np.array(["android", "feature", "ios", "ios", "ios", "ios", "ios"], object),
        "complaint_sensitive": np.array([False, False, False, True, False, False, False]),
        "in_group_customer": np.array([False, False, False, False, True, False, False]),
        "high_value": np.array([False, False, False, False, True, False, False]),
        "status": np.array(["active"] * 5 + ["suspended", "active"], object),
    }
    ch = m.choose_channel(inputs(7, context=ctx))
    assert [m.CHANNELS[c] for c in ch] == [
        "app",  # prefers the app and has a smartphone
        "sms",  # prefers the app on a feature phone: cannot be pushed to
        "web_hall",
        "sms",  # prefers outbound calls but complains: not called
        "account_manager",  # no preference, high-value group customer
        "hall",  # suspended: no SMS
        "hall",  # buys through agents: the hall
    ]
    # campaign history's best channel wins over the preference
    resp = np.array(["hall", None, None, None, None, None, None], object)
    assert m.CHANNELS[m.choose_channel(inputs(7, context=ctx), resp)[0]] == "hall"


def _tiny_warehouse(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE orders AS SELECT * FROM (VALUES "
        "('13800000000', 'MB_MUSIC', 'subscribe', TIMESTAMP '2026-09-01 10:00', 1), "
        "('13800000000', 'MB_MUSIC', 'unsubscribe', TIMESTAMP '2026-10-20 10:00', 2), "
        "('13800000001', 'VAS_CWT', 'subscribe', TIMESTAMP '2026-10-25 10:00', 3), "
        "('13800000001', 'PL_4G38', 'subscribe', TIMESTAMP '2026-10-25 10:00', 4)"
        ") AS t(msisdn, product_id, action, order_time, order_id)"
    ).fetchall()
    wide = pa.table(
        {
            "msisdn": ["13800000001", "13800000000"],
            "brand": ["gotone", "mzone"],
            "arpu_3m": [120.0, 30.0],
            "age_band": ["35-44", "18-24"],
            "music_fan": [False, True],
            "arpu_tier": ["100_199", "20_49"],
        }
    )
    pq.write_table(wide, tmp_path / "wide.parquet")
    return con, tmp_path / "wide.parquet"


NAMES = names_from_kinds(
    {"brand": "enum", "arpu_3m": "number", "age_band": "enum", "music_fan": "flag", "arpu_tier": "enum",
     "car_owner": "flag"}
)  # fmt: skip


def test_evidence_goes_through_the_condition_language(tmp_path: Path) -> None:
    con, wide = _tiny_warehouse(tmp_path)
    evidence = [
        m.Evidence("music_fan", "MB_MUSIC", "音乐偏好"),
        m.Evidence("arpu_3m >= 100 AND brand = 'gotone'", "VAS_CWT", "高端"),
        m.Evidence("musc_fan", "MB_MUSIC", "typo"),  # unknown name: refused with the closest name
        m.Evidence("car_owner", "VAS_CWT", "no such column in this wide table"),
        m.Evidence("music_fan", "NO_SUCH", "unknown service"),
        m.Evidence("1=1; DROP TABLE orders", "MB_MUSIC", "not a condition"),
    ]
    inp = m.load_tables(con, wide, SERVICES, evidence, NAMES)
    assert inp.msisdn.tolist() == ["13800000000", "13800000001"]  # ordered by number
    assert [e.reason for e in inp.evidence] == ["音乐偏好", "高端"]
    assert inp.evidence_hits.tolist() == [[True, False], [False, True]]
    why = {e.reason: w for e, w in inp.rejected}
    assert "music_fan" in why["typo"] and "unknown service" in why["unknown service"]
    assert "car_owner" in why["no such column in this wide table"]
    assert "not a condition" in why
    assert con.execute("SELECT count(*) FROM orders").fetchall() == [(4,)]
    # holdings: the last order decides; plans are not services; as_of cuts the history
    assert inp.held.tolist() == [[False, False, False], [False, True, False]]
    early = m.load_tables(con, wide, SERVICES, evidence[:1], NAMES, as_of="2026-10-01")
    assert early.held.tolist() == [[True, False, False], [False, False, False]]


def test_tables_store_ranked_matches_and_flags() -> None:
    e = m.Evidence("car_owner", "VAS_CWT", "车主")
    inp = inputs(2, evidence=[e], evidence_hits=np.array([[True], [False]]))
    sc = m.apply(library(inp), inp)
    rk = m.rank(sc, 2)
    matches, per_sub = m.tables(inp, sc, rk, np.array([0, 3], np.int8))
    assert matches.num_rows == int((rk.service >= 0).sum())
    first = matches.filter(pa.compute.equal(matches["rank"], 1)).to_pylist()
    assert [(r["service_id"], r["channel"], r["layer"]) for r in first] == [
        ("VAS_CWT", "sms", 2),
        ("MB_MUSIC", "hall", 4),
    ]
    p = per_sub.to_pylist()
    assert p[0]["match_top_service"] == "VAS_CWT" and p[0]["match_vas_cwt"] and p[0]["match_mb_music"]
    assert p[1]["match_top_channel"] == "hall" and not p[1]["match_vas_cwt"]


def test_matches_for_reads_one_subscriber(tmp_path: Path) -> None:
    e = m.Evidence("car_owner", "VAS_CWT", "车主")
    inp = inputs(2, evidence=[e], evidence_hits=np.array([[True], [False]]))
    sc = m.apply(library(inp), inp)
    matches, _ = m.tables(inp, sc, m.rank(sc, 3), np.array([0, 0], np.int8))
    (tmp_path / "matching").mkdir()
    pq.write_table(matches, tmp_path / "matching" / "matches.parquet")
    got = m.matches_for("13800000000", tmp_path)
    assert [x.service_id for x in got] == ["VAS_CWT", "MB_MUSIC"] and got[0].layer == 2
    assert m.matches_for("13899999999", tmp_path) == []
    assert m.matches_for("1' OR '1'='1", tmp_path) == []  # a parameter, never pasted into SQL
    with pytest.raises(m.MatchingError, match="matching build"):
        m.matches_for("13800000000", tmp_path / "nowhere")


def test_evaluation_arithmetic_on_a_hand_computed_case(tmp_path: Path) -> None:
    gt = tmp_path / "ground_truth"
    gt.mkdir()
    pq.write_table(
        pa.table({"msisdn": ["13800000000", "13800000000", "13800000001", "13800000001"],
                  "product_id": ["MB_MUSIC", "VAS_CWT", "MB_MUSIC", "G5_UP"],
                  "probability": [0.5, 0.1, 0.2, 0.4]}),
        gt / "propensity.parquet",
    )  # fmt: skip
    pq.write_table(
        pa.table({"msisdn": ["13800000000", "13800000001"], "sms": [0.1, 0.2], "outbound": [0.3, 0.5],
                  "10086": [0.0, 0.0], "hall": [0.5, 0.5], "web_hall": [0.0, 0.0], "app": [0.2, 0.0]}),
        gt / "channel_response.parquet",
    )  # fmt: skip
    ms = np.array(["13800000000", "13800000001"], object)
    prop, cr = ev.read_truth(tmp_path, ms, [s.service_id for s in SERVICES])
    assert prop.tolist() == [[0.5, 0.1, 0.0], [0.2, 0.0, 0.4]]
    assert cr[:, m.CHANNELS.index("account_manager")].tolist() == [0.3, 0.5]  # judged as outbound
    channel = np.array([m.CHANNELS.index("hall"), m.CHANNELS.index("account_manager")])
    hit = ev.expected_hit(prop, cr, np.array([0, 2]), channel)
    assert hit.tolist() == pytest.approx([0.5 * 0.5, 0.4 * 0.5])
    assert ev.expected_hit(prop, cr, np.array([-1, 2]), channel).tolist() == pytest.approx([0.0, 0.2])
    eligible = np.array([[True, True, False], [False, True, True]])
    # random: mean over the eligible services: (0.5 + 0.1) / 2 × 0.5 and (0 + 0.4) / 2 × 0.5
    assert ev.random_expectation(prop, cr, eligible, channel).tolist() == pytest.approx([0.15, 0.1])
    assert ev.popular_top(eligible, np.array([2, 0, 1])).tolist() == [0, 2]
    assert ev.popular_top(np.zeros((1, 3), bool), np.array([0, 1, 2])).tolist() == [-1]
    row = ev._row("x", np.array([0, -1]), np.array([0.25, 0.0]))
    assert (row.coverage, row.hit_rate, row.hit_rate_all) == (0.5, 0.25, 0.125)
    with pytest.raises(KeyError, match="none of"):
        ev.read_truth(tmp_path, np.array(["13999999999"], object), ["MB_MUSIC"])


def test_als_recommends_what_similar_users_hold() -> None:
    import scipy.sparse as sp

    # two taste groups: {0, 1} and {2, 3}; a test user holding 0 should get 1, one holding 2 → 3
    rows = np.array([[1, 1, 0, 0]] * 30 + [[0, 0, 1, 1]] * 30, np.float32)
    top = ev.als_top(sp.csr_matrix(rows), sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 1, 0]], np.float32)),
                     factors=2, regularization=0.01, alpha=10.0)  # fmt: skip
    assert top.tolist() == [1, 3]


def test_the_split_is_fixed_by_number() -> None:
    ms = np.array([f"138{i:08d}" for i in range(2000)], object)
    a, b = ev._test_mask(ms, 0.5, 0), ev._test_mask(ms[::-1], 0.5, 0)[::-1]
    assert (a == b).all() and 0.4 < a.mean() < 0.6
    assert not (ev._test_mask(ms, 0.5, 1) == a).all()


def test_cli_show_and_its_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tagcloud.cli import app

    e = m.Evidence("car_owner", "VAS_CWT", "车主")
    inp = inputs(2, evidence=[e], evidence_hits=np.array([[True], [False]]))
    sc = m.apply(library(inp), inp)
    matches, _ = m.tables(inp, sc, m.rank(sc, 3), np.array([0, 3], np.int8))
    runner = CliRunner()
    missing = runner.invoke(app, ["matching", "show", "13800000000", "-w", str(tmp_path)])
    assert missing.exit_code == 2 and "matching build" in missing.output
    (tmp_path / "matching").mkdir()
    pq.write_table(matches, tmp_path / "matching" / "matches.parquet")
    ok = runner.invoke(app, ["matching", "show", "13800000000", "-w", str(tmp_path)])
    assert ok.exit_code == 0 and "1. VAS_CWT" in ok.output and "via sms" in ok.output
    unknown = runner.invoke(app, ["matching", "show", "13899999999", "-w", str(tmp_path)])
    assert unknown.exit_code == 1


def test_wiki_points_become_one_evidence_per_product(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys
    import types
    from typing import NamedTuple

    class Point(NamedTuple):  # the wiki's VerifiedPoint contract: id, condition, products, reason
        point_id: str
        condition: str
        products: tuple[str, ...]
        reason: str

    seen: list[object] = []

    def verified_points(warehouse: object = None) -> list[Point]:
        seen.append(warehouse)
        return [Point("kp_1", "car_owner", ("VAS_CWT", "MB_MUSIC"), "车主: 车务通")]

    mod = types.ModuleType("tagcloud.knowledge.wiki")
    mod.verified_points = verified_points  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tagcloud.knowledge.wiki", mod)
    got = m.wiki_evidence(tmp_path)
    assert seen == [tmp_path]
    assert [(e.condition, e.service, e.source) for e in got] == [
        ("car_owner", "VAS_CWT", "wiki"),
        ("car_owner", "MB_MUSIC", "wiki"),
    ]
    assert m.to_evidence(("music_fan", "MB_MUSIC", "r"), "x") == m.Evidence("music_fan", "MB_MUSIC", "r", "x")
    with pytest.raises(m.MatchingError):
        m.to_evidence(object())
