"""The ``tagcloud models`` commands: thin, and bad input gets a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from tagcloud.cli import app

runner = CliRunner()


def test_ahp_command(tmp_path: Path) -> None:
    ok = tmp_path / "ok.csv"
    ok.write_text("price,quality,service\n1,3,5\n1/3,1,3\n1/5,1/3,1\n", encoding="utf-8")
    r = runner.invoke(app, ["models", "ahp", str(ok)])
    assert r.exit_code == 0, r.output
    assert "price                0.6370" in r.output and "CR = 0.0332" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,5,1/5\n1/5,1,5\n5,1/5,1\n", encoding="utf-8")
    r = runner.invoke(app, ["models", "ahp", str(bad)])
    assert r.exit_code != 0 and "exceeds 0.10" in r.output


def test_train_command_writes_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 600
    x = rng.normal(size=n)
    pq.write_table(
        pa.table({"msisdn": [f"139{i:08d}" for i in range(n)], "x": x, "noise": rng.normal(size=n),
                  "took": (x + rng.normal(scale=0.5, size=n)) > 1.0}),
        tmp_path / "attrs.parquet",
    )  # fmt: skip
    r = runner.invoke(
        app,
        ["models", "train", str(tmp_path / "attrs.parquet"), "--label", "took", "--name", "offer_x",
         "--warehouse", str(tmp_path / "wh"), "--folds", "3"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "CV AUC" in r.output
    out = pq.read_table(tmp_path / "wh" / "models" / "offer_x.parquet")
    assert out.column_names == ["msisdn", "offer_x_score", "offer_x_decile"] and out.num_rows == n
    r = runner.invoke(
        app, ["models", "train", str(tmp_path / "attrs.parquet"), "--label", "nope", "--name", "y"]
    )
    assert r.exit_code != 0 and "label column 'nope'" in r.output


def test_unknown_model_named(tmp_path: Path) -> None:
    r = runner.invoke(app, ["models", "run", "--warehouse", str(tmp_path), "--only", "hom_work"])
    assert r.exit_code != 0 and "unknown model 'hom_work'" in r.output


def test_train_out_of_time(tmp_path: Path) -> None:
    """Trained on one month's churners (yes/no text), judged on the next month's (是/否)."""
    rng = np.random.default_rng(1)

    def month(n: int, yes: str, no: str, shift: float) -> pa.Table:
        x = rng.normal(size=n)
        churn = (x + rng.normal(scale=0.7, size=n)) > 1.3 + shift
        return pa.table({"msisdn": [f"139{i:08d}" for i in range(n)], "x": x, "noise": rng.normal(size=n),
                         "churn": np.where(churn, yes, no)})  # fmt: skip

    pq.write_table(month(800, "yes", "no", 0.0), tmp_path / "aug.parquet")
    pq.write_table(month(800, "是", "否", 0.2), tmp_path / "sep.parquet")
    args = ["models", "train", str(tmp_path / "aug.parquet"), "--label", "churn", "--name", "churn_oot",
            "--warehouse", str(tmp_path / "wh"), "--folds", "3"]  # fmt: skip
    r = runner.invoke(app, [*args, "--out-of-time", str(tmp_path / "sep.parquet")])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if "out of time" in x)
    auc = float(line.split("AUC ")[1].split(";")[0])
    lift = float(line.split("lift at top decile ")[1].split(" ")[0])
    assert 0.75 < auc < 1.0 and lift > 2.0  # x carries the signal in both months
    # a later month whose labels carry no signal scores near chance
    noise = month(800, "churn", "active", 0.0).set_column(1, "x", pa.array(rng.normal(size=800)))
    pq.write_table(noise, tmp_path / "oct.parquet")
    r = runner.invoke(app, [*args, "--out-of-time", str(tmp_path / "oct.parquet")])
    auc = float(next(x for x in r.output.splitlines() if "out of time" in x).split("AUC ")[1].split(";")[0])
    assert 0.35 < auc < 0.65
    pq.write_table(month(50, "maybe", "no", 0.0), tmp_path / "bad.parquet")
    r = runner.invoke(app, [*args, "--out-of-time", str(tmp_path / "bad.parquet")])
    assert r.exit_code != 0 and "not a yes/no label" in r.output


def test_uplift_command_trains_on_a_campaign_and_scores_everyone(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 3000
    old = rng.random(n) < 0.5
    treated = rng.random(n) < 0.5
    took = rng.random(n) < np.where(treated & old, 0.25, 0.05)  # only the older ones are moved
    ms = [f"139{i:08d}" for i in range(n)]
    pq.write_table(pa.table({"msisdn": ms, "age_band": np.where(old, "55-64", "18-24"),
                             "noise": rng.normal(size=n)}), tmp_path / "attrs.parquet")  # fmt: skip
    half = slice(0, n // 2)  # the campaign covered half of them
    pq.write_table(
        pa.table({"msisdn": ms[half], "treated": treated[half], "took": np.where(took, "Y", "N")[half]}),
        tmp_path / "campaign.parquet",
    )
    args = ["models", "uplift", str(tmp_path / "attrs.parquet"), "--campaign", str(tmp_path / "campaign.parquet"),
            "--offer", "DP_10G", "--warehouse", str(tmp_path / "wh"), "--folds", "3"]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "CV Qini" in r.output and "uplift in the top 20%" in r.output
    out = pq.read_table(tmp_path / "wh" / "models" / "uplift_DP_10G.parquet")
    assert out.column_names == ["msisdn", "uplift_DP_10G_score", "uplift_DP_10G_decile"] and out.num_rows == n
    s = out.column("uplift_DP_10G_score").to_numpy()
    assert s[old].mean() > s[~old].mean() + 0.1
    r = runner.invoke(app, [*args[:4], str(tmp_path / "attrs.parquet"), *args[5:]])
    assert r.exit_code != 0 and "has no column 'treated'" in r.output
