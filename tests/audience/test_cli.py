"""The audience commands answer from the CLI and report bad input as one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagcloud.audience.query import AudienceEngine
from tagcloud.cli import app
from tagcloud.tags.condition import ConditionError

runner = CliRunner()


@pytest.fixture()
def wh(warehouse: Path, tmp_path: Path) -> str:
    w = tmp_path / "wh"
    w.mkdir()
    for part in ("wide", "index"):
        (w / part).symlink_to(warehouse / part)
    return str(w)


def run(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["audience", *args])
    return r.exit_code, r.output


def test_count_list_profile_split_lookup(wh: str) -> None:
    eng = AudienceEngine.open(wh, can_unmask=True)
    n = eng.count("tag_0001 AND NOT tag_0002")
    code, out = run("count", "tag_0001 AND NOT tag_0002", "-w", wh, "--explain")
    assert code == 0 and f"{n:,} subscribers" in out and "smallest first" in out
    code, out = run("list", "tag_0001", "-w", wh, "--limit", "5", "-c", "arpu", "-f", "csv")
    assert code == 0 and out.count("****") == 5 and out.startswith("msisdn,city_id")
    code, out = run("list", "tag_0001", "-w", wh, "--limit", "2", "--unmask", "-f", "csv")
    assert "****" not in out
    code, out = run("profile", "tag_0001", "-w", wh, "-c", "brand", "-c", "arpu", "-f", "csv")
    assert code == 0 and "gotone" in out and "arpu" in out
    code, out = run("split", "tag_0001", "--by", "arpu", "--edges", "50,100", "-w", wh, "-f", "csv")
    assert code == 0 and "arpu >= 50 AND arpu < 100" in out
    number = eng.list_members("tag_0001", limit=1)["msisdn"][0]
    code, out = run("lookup", number, "-w", wh)
    assert code == 0 and number[:3] + "****" + number[-4:] in out and "county_id" in out
    code, out = run("sample", "tag_0001", "-n", "3", "-w", wh, "-f", "csv")
    assert code == 0 and out.count("\n") == 4


def test_groups_combine_control(wh: str) -> None:
    assert run("save", "g1", "tag_0001", "-w", wh)[0] == 0
    assert run("save", "g2", "brand = 'gotone'", "-w", wh)[0] == 0
    code, out = run("combine", "g3", "minus", "g1", "g2", "-w", wh)
    assert code == 0 and "in_group('g1') AND NOT in_group('g2')" in out
    code, out = run("control", "camp1", "in_group('g3')", "--share", "0.1", "-w", wh)
    assert code == 0 and "held out" in out
    code, out = run("groups", "-w", wh, "-f", "csv")
    assert {"g1", "g2", "g3", "camp1.action", "camp1.control"} <= {
        line.split(",")[0] for line in out.splitlines()
    }


def test_invalid_condition_points_at_the_token(wh: str) -> None:
    code, out = run("count", "arpu >= 80 AND NOT tag_0x01", "-w", wh)
    assert code == 2
    assert "unknown name 'tag_0x01'" in out and "^^^^^^^^" in out
    code, out = run("count", "brand = 'gotonee'", "-w", wh)
    assert code == 2 and "did you mean 'gotone'" in out
    code, out = run("lookup", "12345", "-w", wh)
    assert code == 2 and "not an 11-digit mobile number" in out
    with pytest.raises(ConditionError) as e:
        AudienceEngine.open(wh).count("arpu >= AND tag_0001")
    assert e.value.start > 0
