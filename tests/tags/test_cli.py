"""The tag commands are thin: they print what the library says, and bad input is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagcloud.cli import app

runner = CliRunner()


def test_validate_and_list() -> None:
    r = runner.invoke(app, ["tags", "validate"])
    assert r.exit_code == 0 and "attributes" in r.output
    r = runner.invoke(app, ["tags", "list", "--category", "car_owner"])
    assert r.exit_code == 0 and "car_owner" in r.output and "traffic_radio_caller" in r.output


@pytest.mark.slow
def test_show_prints_definition_rule_lineage_and_coverage(built) -> None:
    wh, _ = built
    r = runner.invoke(app, ["tags", "show", "golf_weekender", "--warehouse", str(wh)])
    assert r.exit_code == 0, r.output
    for text in (
        "口径",
        "rule: rest_days_in_golf >= 2",
        "warehouse columns:",
        "cells.area_type",
        "coverage in recent builds",
    ):
        assert text in r.output
    r = runner.invoke(app, ["tags", "show", "golf_weekendr"])
    assert r.exit_code == 2 and "did you mean 'golf_weekender'" in r.output


def test_bad_definitions_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("tags: [{id: a1, rule: 'x >'}]\n")
    r = runner.invoke(app, ["tags", "validate", "--definitions", str(tmp_path)])
    assert r.exit_code == 2 and "x.yaml" in r.output and "Traceback" not in r.output
