"""Quality of every model against the simulator's ground truth (``OUT/ground_truth/*.parquet``).

``evaluate(warehouse, truth_dir)`` reads the model outputs written by ``run_models`` and the
ground truth, and returns one :class:`Metric` per figure, with the issue's target where it sets
one. ``render_markdown`` turns them into the report section of ``docs/models.md``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import numpy as np


@dataclass
class Metric:
    model: str
    metric: str
    value: float
    target: str = ""  # e.g. ">= 0.92"; empty when the issue sets none (reported for information)
    n: int = 0  # how many subscribers / pairs / numbers the figure is over

    @property
    def passed(self) -> bool | None:
        if not self.target:
            return None
        op, num = self.target.split()
        v, t = self.value, float(num)
        return {">=": v >= t, "<=": v <= t}[op]


def _f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    return tuple(con.execute(sql).fetchall()[0])


def evaluate(
    warehouse: str | Path, truth_dir: str | Path, *, con: duckdb.DuckDBPyConnection | None = None
) -> list[Metric]:
    """Every figure we can compute from the model outputs present; missing outputs are skipped."""
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from tagcloud.data.warehouse import Warehouse

    wh, truth = Path(warehouse), Path(truth_dir)
    gt = truth / "subscribers.parquet"
    if not gt.exists():
        raise FileNotFoundError(f"ground truth {gt} not found (simulate writes OUT/ground_truth/)")
    con = con or Warehouse(wh).connect()
    con.execute(f"CREATE OR REPLACE VIEW gt AS SELECT * FROM read_parquet('{gt}')")
    if (truth / "offnet.parquet").exists():
        con.execute(
            f"CREATE OR REPLACE VIEW gt_offnet AS SELECT * FROM read_parquet('{truth / 'offnet.parquet'}')"
        )
    for out_file in sorted((wh / "models").glob("*.parquet")) + sorted(
        (wh / "models" / "detail").glob("*.parquet")
    ):
        con.execute(f"CREATE OR REPLACE VIEW m_{out_file.stem} AS SELECT * FROM read_parquet('{out_file}')")
    have = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    out: list[Metric] = []

    if "m_home_work" in have:
        n, home, work = _one(
            con,
            """SELECT count(*), avg((m.home_cell IS NOT DISTINCT FROM g.home_cell)::INT),
                      avg((m.work_cell IS NOT DISTINCT FROM g.work_cell)::INT)
               FROM gt g LEFT JOIN m_home_work m USING (msisdn) WHERE g.home_cell IS NOT NULL""",
        )
        out += [Metric("home_work", "home cell exact", home, ">= 0.92", n)]
        out += [Metric("home_work", "work cell exact", work, ">= 0.85", n)]
        sh, sh_n = _one(
            con,
            """SELECT avg((m.home_cell = g.home_cell)::INT), count(*) FROM gt g JOIN m_home_work m USING (msisdn)
               WHERE g.persona = 'shift_worker'""",
        )
        out += [Metric("home_work", "home cell exact, shift workers", sh or 0.0, "", sh_n)]

    if "m_rural_type" in have:
        f1s = []
        for cls in ("stay_home", "county_worker", "out_county_worker"):
            tp, fp, fn = _one(
                con,
                f"""SELECT count(*) FILTER (WHERE p = '{cls}' AND t = '{cls}'),
                           count(*) FILTER (WHERE p = '{cls}' AND t IS DISTINCT FROM '{cls}'),
                           count(*) FILTER (WHERE t = '{cls}' AND p IS DISTINCT FROM '{cls}')
                    FROM (SELECT g.rural_type AS t, m.rural_type AS p FROM gt g LEFT JOIN m_rural_type m USING (msisdn))""",
            )
            f1s.append(_f1(tp, fp, fn)[2])
        (n,) = _one(con, "SELECT count(*) FROM gt WHERE rural_type IS NOT NULL")
        out += [Metric("rural_type", "macro-F1", float(np.mean(f1s)), ">= 0.85", n)]

    if "m_migrant_workers" in have:
        tp, fp, fn, bt, bt_n, st, st_n = _one(
            con,
            """SELECT count(*) FILTER (WHERE p AND t), count(*) FILTER (WHERE p AND NOT t),
                      count(*) FILTER (WHERE t AND NOT p),
                      count(*) FILTER (WHERE p AND g.business_traveller), count(*) FILTER (WHERE g.business_traveller),
                      count(*) FILTER (WHERE p AND g.school_type IS NOT NULL),
                      count(*) FILTER (WHERE g.school_type IS NOT NULL)
               FROM (SELECT g.*, coalesce(m.is_migrant_worker, false) AS p, coalesce(g.migrant, false) AS t
                     FROM gt g LEFT JOIN m_migrant_workers m USING (msisdn)) g""",
        )
        p, r, _ = _f1(tp, fp, fn)
        out += [
            Metric("migrant_workers", "precision", p, ">= 0.90", tp + fp),
            Metric("migrant_workers", "recall", r, ">= 0.80", tp + fn),
            Metric(
                "migrant_workers",
                "business travellers taken for migrants",
                bt / max(bt_n, 1),
                "<= 0.05",
                bt_n,
            ),
            Metric("migrant_workers", "students taken for migrants", st / max(st_n, 1), "<= 0.05", st_n),
        ]

    if "m_competitor_migrants" in have and "gt_offnet" in have:
        tp, fp, fn = _one(
            con,
            """SELECT count(*) FILTER (WHERE p AND t), count(*) FILTER (WHERE p AND NOT t), count(*) FILTER (WHERE t AND NOT p)
               FROM (SELECT coalesce(m.is_competitor_migrant, false) AS p, o.is_competitor_migrant AS t
                     FROM gt_offnet o LEFT JOIN m_competitor_migrants m ON m.msisdn = o.number)""",
        )
        p, r, _ = _f1(tp, fp, fn)
        out += [Metric("competitor_migrants", "precision", p, "", tp + fp),
                Metric("competitor_migrants", "recall", r, "", tp + fn)]  # fmt: skip

    if "m_family_pairs" in have:
        tp, pred, true = _one(
            con,
            """WITH t AS (SELECT a.msisdn AS a, b.msisdn AS b FROM gt a JOIN gt b
                          ON a.family_id = b.family_id AND a.msisdn < b.msisdn)
               SELECT (SELECT count(*) FROM m_family_pairs JOIN t USING (a, b)),
                      (SELECT count(*) FROM m_family_pairs), (SELECT count(*) FROM t)""",
        )
        p, r, f1 = _f1(tp, pred - tp, true - tp)
        out += [Metric("family_pairs", "pair F1", f1, ">= 0.85", true),
                Metric("family_pairs", "pair precision", p), Metric("family_pairs", "pair recall", r)]  # fmt: skip

    if "m_students" in have:
        tp, fp, fn = _one(
            con,
            """SELECT count(*) FILTER (WHERE p AND t), count(*) FILTER (WHERE p AND NOT t), count(*) FILTER (WHERE t AND NOT p)
               FROM (SELECT coalesce(m.is_student, false) AS p, g.school_type IS NOT NULL AS t
                     FROM gt g LEFT JOIN m_students m USING (msisdn))""",
        )
        out += [Metric("students", "F1", _f1(tp, fp, fn)[2], ">= 0.90", tp + fn)]
        if "campus_daily" in {
            r[0] for r in con.execute("SELECT name FROM pragma_table_info('gt')").fetchall()
        }:
            # teachers, canteen staff and nearby residents in campus cells every day (test profile)
            listed, campus, campus_n = _one(
                con,
                """SELECT count(*) FILTER (WHERE m.is_student), count(*) FILTER (WHERE m.is_student AND g.campus_daily),
                          count(*) FILTER (WHERE g.campus_daily)
                   FROM gt g LEFT JOIN m_students m USING (msisdn)""",
            )
            if campus_n:
                out += [
                    Metric(
                        "students",
                        "campus staff/residents on the list",
                        campus / max(listed, 1),
                        "<= 0.05",
                        campus_n,
                    )
                ]

    def scores(sql: str) -> tuple[Any, Any]:
        d = con.execute(sql).fetchnumpy()
        return np.asarray(d["t"]), np.asarray(d["s"], dtype=float)

    if "m_dual_sim" in have:
        t, s = scores(
            "SELECT g.dual_sim AS t, m.dual_sim_score AS s FROM gt g JOIN m_dual_sim m USING (msisdn)"
        )
        out += [Metric("dual_sim", "AUC", float(roc_auc_score(t, s)), ">= 0.85", len(t))]

    if "m_influence" in have:
        t, s = scores(
            "SELECT g.influence AS t, m.influence_score AS s FROM gt g JOIN m_influence m USING (msisdn)"
        )
        out += [
            Metric(
                "influence",
                "Spearman with planted influence",
                float(spearmanr(t, s).statistic),
                ">= 0.80",
                len(t),
            )
        ]

    if "churn" in {r[0] for r in con.execute("DESCRIBE gt").fetchall()}:
        learned = _churn_learned(con)  # the planted AUC first, on the rows the model learns from
        if not learned:
            t, s = scores("SELECT churn AS t, churn_prob AS s FROM gt")
            learned = [
                Metric("churn", "AUC of the planted probabilities", float(roc_auc_score(t, s)), "", len(t))
            ]
        out += learned[:1]
        if "m_churn_warning" in have:
            t, s = scores(
                "SELECT g.churn AS t, m.churn_score AS s FROM gt g JOIN m_churn_warning m USING (msisdn)"
            )
            out += [Metric("churn_warning", "AUC (rule score)", float(roc_auc_score(t, s)), "", len(t))]
        out += learned[1:]

    if "m_internet_interest" in have:
        cols = {r[0] for r in con.execute("DESCRIBE m_internet_interest").fetchall()}
        gcols = {r[0] for r in con.execute("DESCRIBE gt").fetchall()}
        f1s = []
        for c in sorted(cols & gcols):
            if not c.startswith("interest_"):
                continue
            tp, fp, fn = _one(
                con,
                f"""SELECT count(*) FILTER (WHERE p AND t), count(*) FILTER (WHERE p AND NOT t), count(*) FILTER (WHERE t AND NOT p)
                    FROM (SELECT coalesce(m.{c}, false) AS p, g.{c} AS t FROM gt g LEFT JOIN m_internet_interest m USING (msisdn))""",
            )
            f1 = _f1(tp, fp, fn)[2]
            f1s.append(f1)
            out += [Metric("internet_interest", f"{c} F1", f1, "", tp + fn)]
        if f1s:
            out += [Metric("internet_interest", "interest flags macro-F1", float(np.mean(f1s)))]

    if (truth / "propensity.parquet").exists():
        con.execute(
            f"CREATE OR REPLACE VIEW gt_prop AS SELECT * FROM read_parquet('{truth / 'propensity.parquet'}')"
        )
        if "m_plan_recommendation" in have:
            rec, base, n = _one(
                con,
                """SELECT avg(g.probability), avg(b.p), count(g.probability)
                   FROM m_plan_recommendation r
                   JOIN gt_prop g ON g.msisdn = r.msisdn AND g.product_id = r.recommended_product
                   JOIN (SELECT product_id, avg(probability) AS p FROM gt_prop GROUP BY 1) b
                     ON b.product_id = r.recommended_product""",
            )
            if n:
                out += [Metric("plan_recommendation", "planted acceptance of the recommended product ÷ its mean",
                               rec / base, "", n)]  # fmt: skip
        if "m_migration_5g" in have:
            a, c, n = _one(
                con,
                """SELECT avg(g.probability) FILTER (WHERE m.migration_priority = 'A'),
                          avg(g.probability) FILTER (WHERE m.migration_priority = 'C'), count(*)
                   FROM m_migration_5g m JOIN gt_prop g ON g.msisdn = m.msisdn AND g.product_id = 'PL_5G128'""",
            )
            if n and c:
                out += [Metric("migration_5g", "planted 5G-plan acceptance, tier A ÷ tier C", a / c, "", n)]

    if "m_tariff_sensitivity" in have:
        t, s = scores(
            """SELECT CASE g.value_tier WHEN 'low' THEN 0 WHEN 'mid' THEN 1 ELSE 2 END AS t, m.tariff_sensitivity_score AS s
               FROM gt g JOIN m_tariff_sensitivity m USING (msisdn)"""
        )
        out += [
            Metric(
                "tariff_sensitivity",
                "Spearman with value tier (expected negative)",
                float(spearmanr(t, s).statistic),
                "",
                len(t),
            )
        ]
    return out


def _cut_before(sql: str, cut: str) -> str:
    """``sql`` with every event table read only before ``cut`` (a date): no row of the decision or
    after; monthly bills only for months that closed before the cut (a bill exists once its month is over)."""
    import re

    from tagcloud.data.model import table

    keywords = {"WHERE", "GROUP", "LEFT", "JOIN", "INNER", "ORDER", "USING", "ON"}
    kept = {
        name: f"{table(name).time_column} < DATE '{cut}'"
        for name in ("voice_cdr", "sms", "data_xdr", "service_contacts", "roaming", "subscriber_handsets",
                     "orders", "payments")
    }  # fmt: skip
    kept["billing_monthly"] = f"{table('billing_monthly').time_column} + INTERVAL 1 MONTH <= DATE '{cut}'"
    for name, condition in kept.items():

        def sub(m: re.Match[str], name: str = name, condition: str = condition) -> str:
            alias = m.group(1)
            keep = alias if alias and alias.upper() not in keywords else None
            head = f"FROM (SELECT * FROM {name} WHERE {condition}) {keep or name}"
            return head if keep else head + (f" {alias}" if alias else "")

        sql = re.sub(rf"\bFROM {name}\b(?:\s+(\w+))?", sub, sql)
    return sql


CHURN_TRAINER: dict[str, Any] = {
    # Chosen by 5-fold cross-validation on the 20,000-subscriber province (docs/models.md): with a
    # rare label (~5%), depth-2 trees (nearly additive) learn the signs without learning the noise.
    "folds": 5,
    "max_iter": 200,
    "learning_rate": 0.05,
    "min_samples_leaf": 200,
    "max_depth": 2,
}


def _churn_learned(con: duckdb.DuckDBPyConnection) -> list[Metric]:
    """Churn propensity trained on the truth labels, out-of-fold, from attributes computed only on
    events before the first planted churn day (the label is "churns in the month after the cut").

    The first metric is the AUC of the planted ``churn_prob`` on the same rows, the figure the model
    is measured against; empty when the truth has no churn dates (an older simulator)."""
    from sklearn.metrics import roc_auc_score

    from tagcloud.models.customer import attributes_sql
    from tagcloud.models.propensity import PropensityError, train

    gcols = {r[0] for r in con.execute("DESCRIBE gt").fetchall()}
    if "churn_date" not in gcols:
        return []  # an older simulator's truth: churn was in progress inside the window
    (cut,) = _one(con, "SELECT min(churn_date) FROM gt")
    if cut is None:
        return []
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _attributes_cut AS {_cut_before(attributes_sql(), str(cut))}"
        )
        table = con.sql(
            "SELECT a.*, g.churn, g.churn_prob FROM _attributes_cut a JOIN gt g USING (msisdn)"
        ).to_arrow_table()
        planted_prob = table.column("churn_prob").to_numpy()
        table = table.drop_columns(["churn_prob"])  # the truth's probability is never a feature
        r = train(table, "churn", name="churn", calibration="isotonic", **CHURN_TRAINER)
    except PropensityError:
        return []
    y = table.column("churn").to_numpy(zero_copy_only=False).astype(int)
    planted = float(roc_auc_score(y, planted_prob))
    # How much detail the signs were read from: their Poisson noise shrinks with the days observed
    # (docs/models.md: a gap of 0.024 at 30 days, 0.013 at 60 on the same province).
    (days,) = _one(
        con, f"SELECT date_diff('day', min(CAST(start_time AS DATE)), DATE '{cut}') FROM voice_cdr"
    )
    return [
        Metric("churn", "AUC of the planted probabilities", planted, "", r.rows),
        Metric("churn", "days of detail before the cut", float(days or 0), "", r.rows),
        Metric("churn", "CV AUC, attributes before the first churn day", r.auc, "", r.rows),
        Metric("churn", "CV AUC minus planted AUC (absolute)", abs(r.auc - planted), "<= 0.02", r.rows),
        Metric("churn", "lift at top decile", r.lift_top_decile, "", r.rows),
        *_calibration_metrics(r.calibration, y, planted_prob, r.rows),
    ]


def _calibration_metrics(cal: Any, y: np.ndarray, planted_prob: np.ndarray, n: int) -> list[Metric]:
    """Out-of-fold Brier score and ECE before and after isotonic calibration, beside the planted
    probabilities' own (the best a calibrated model can expect)."""
    import numpy as np

    from tagcloud.models.propensity import expected_calibration_error

    if cal is None:
        return []
    return [
        Metric("churn", "Brier score, raw (out of fold)", cal.brier_raw, "", n),
        Metric("churn", "Brier score, isotonic (out of fold)", cal.brier, "", n),
        Metric(
            "churn",
            "Brier score of the planted probabilities",
            float(np.mean((planted_prob - y) ** 2)),
            "",
            n,
        ),
        Metric("churn", "ECE, raw (out of fold)", cal.ece_raw, "", n),
        Metric("churn", "ECE, isotonic (out of fold)", cal.ece, "", n),
        Metric(
            "churn", "ECE of the planted probabilities", expected_calibration_error(planted_prob, y), "", n
        ),
    ]


def write_json(metrics: list[Metric], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps([{**asdict(m), "passed": m.passed} for m in metrics], ensure_ascii=False, indent=1),
        encoding="utf-8",
    )


def render_markdown(metrics: list[Metric]) -> str:
    """The figures as a Markdown table (target and pass/fail where the issue sets a target)."""
    lines = ["| model | metric | value | target | met | n |", "|---|---|---:|---|---|---:|"]
    for m in metrics:
        met = {True: "yes", False: "**no**", None: ""}[m.passed]
        lines.append(f"| {m.model} | {m.metric} | {m.value:.3f} | {m.target} | {met} | {m.n:,} |")
    return "\n".join(lines) + "\n"


def render_side_by_side(dev: list[Metric], test: list[Metric]) -> str:
    """Dev and test province figures as one Markdown table; 'met' is judged on the test column."""
    lines = [
        "| model | metric | dev | test | target | met (test) | n (test) |",
        "|---|---|---:|---:|---|---|---:|",
    ]
    for key, d, t in pair_metrics(dev, test):
        dv = f"{d.value:.3f}" if d else ""
        tv = f"{t.value:.3f}" if t else ""
        target = next(m.target for m in (t, d) if m is not None)
        met = {True: "yes", False: "**no**", None: ""}[t.passed] if t else ""
        lines.append(f"| {key[0]} | {key[1]} | {dv} | {tv} | {target} | {met} | {f'{t.n:,}' if t else ''} |")
    return "\n".join(lines) + "\n"


def pair_metrics(
    dev: list[Metric], test: list[Metric]
) -> list[tuple[tuple[str, str], Metric | None, Metric | None]]:
    """Rows of both lists matched by (model, metric), in dev order then test-only rows."""
    d = {(m.model, m.metric): m for m in dev}
    t = {(m.model, m.metric): m for m in test}
    keys = list(d) + [k for k in t if k not in d]
    return [(k, d.get(k), t.get(k)) for k in keys]
