"""`tagcloud simulate` is a thin command over the library."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tagcloud.cli import app


def test_simulate_command_writes_an_export(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["simulate", "--subscribers", "120", "--days", "2", "--seed", "5", "--out", str(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert m["subscribers"] == 120 and m["days"] == 2 and m["seed"] == 5 and m["format"] == "parquet"
    assert (tmp_path / "data_xdr" / "data_xdr_20260916.parquet").exists()


def test_simulate_command_names_bad_input(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--start", "15/09/2026"])
    assert r.exit_code != 0 and "--start" in r.output
    r = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--start", "2031-01-01"])
    assert r.exit_code != 0 and "outside the calendar" in r.output
    r = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path), "--encoding", "latin-1"])
    assert r.exit_code != 0 and "encoding" in r.output


def test_simulate_test_profile_takes_its_own_seed(tmp_path: Path) -> None:
    out = tmp_path / "test"
    r = CliRunner().invoke(app, ["simulate", "-n", "120", "-d", "1", "--profile", "test", "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["seed"] == 1001 and m["profile"] == "test" and m["generator"]["pingpong"] > 0
    dev = tmp_path / "dev"
    r = CliRunner().invoke(app, ["simulate", "-n", "120", "-d", "1", "--out", str(dev)])
    m = json.loads((dev / "manifest.json").read_text(encoding="utf-8"))
    assert m["seed"] == 1 and m["profile"] == "dev" and m["generator"]["pingpong"] == 0
    r = CliRunner().invoke(app, ["simulate", "--profile", "prod", "--out", str(tmp_path / "x")])
    assert r.exit_code != 0 and "--profile must be one of dev, test" in r.output
    assert not (tmp_path / "x").exists()  # refused before anything is written
