"""Governed changes: new versions checked like the definitions, the life cycle's moves, overrides
in the warehouse that the next build uses, export in the definitions' form."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from tagcloud.tags.build import build
from tagcloud.tags.catalogue import Catalogue, CatalogueError, Status, Tag, export_catalogue, load_catalogue
from tagcloud.tags.governance import (
    MOVES,
    TagChange,
    TransitionError,
    apply_change,
    approve,
    change_tag,
    check_move,
    history,
    load_effective_catalogue,
    overrides_dir,
    read_overrides,
    write_override,
)

DAY = dt.date(2026, 11, 20)


def _same(a: Tag, b: Tag) -> bool:
    """Equal but for the file the entry was read from."""
    return dataclasses.replace(a, file="") == dataclasses.replace(b, file="")


def test_a_change_is_a_new_checked_version(catalogue: Catalogue) -> None:
    before = catalogue.tags["age_18_24"]
    cat, t = apply_change(
        catalogue,
        "age_18_24",
        TagChange(
            rule="age_band = '18-24' AND tenure_months >= 6", definition_zh="新口径", by="li", comment="窄"
        ),
        today=DAY,
    )
    assert t.version == before.version + 1 and t.rule.endswith(">= 6") and t.definition_zh == "新口径"
    assert t.history[-1].by == "li" and t.history[-1].date == "2026-11-20" and "窄" in t.history[-1].change
    assert "tenure_months" in cat.depends["age_18_24"]  # recompiled: lineage follows the new rule
    assert catalogue.tags["age_18_24"] is before  # the input catalogue is left alone
    assert history(cat, "age_18_24") == t.history


@pytest.mark.parametrize(
    ("tag", "change", "message"),
    [
        ("age_18_24", TagChange(rule="age_bandd = '18-24'"), "did you mean 'age_band'"),
        ("age_18_24", TagChange(rule="age_band = '18-24' AND ("), "age_18_24"),
        ("age_18_24", TagChange(rule="age_band > 5"), "age_18_24"),
        ("age_18_24", TagChange(rule="age_18_24"), "cycle"),
        ("age_18_2", TagChange(rule="true"), "did you mean 'age_18_24'"),
        ("arpu_tier", TagChange(rule="true"), "bucket tag"),
        ("age_18_24", TagChange(status="gone"), "unknown status 'gone'"),
        ("age_18_24", TagChange(comment="nothing"), "changes nothing"),
    ],
)
def test_a_bad_change_is_refused_with_the_checkers_message(
    catalogue: Catalogue, tag: str, change: TagChange, message: str
) -> None:
    with pytest.raises(CatalogueError, match=message):
        apply_change(catalogue, tag, change)


def test_a_cycle_through_two_tags_is_refused(catalogue: Catalogue) -> None:
    cat, _ = apply_change(catalogue, "age_18_24", TagChange(rule="age_25_34 OR age_band = '18-24'"))
    with pytest.raises(CatalogueError, match="cycle between definitions"):
        apply_change(cat, "age_25_34", TagChange(rule="age_18_24"))


def test_life_cycle_moves(catalogue: Catalogue) -> None:
    assert all(comment for moves in MOVES.values() for comment in moves.values())
    assert check_move("t", Status.REVIEW, Status.ONLINE)
    with pytest.raises(TransitionError, match=r"draft → online is not allowed \(allowed: draft → review\)"):
        check_move("t", Status.DRAFT, Status.ONLINE)
    cat, off = apply_change(catalogue, "age_18_24", TagChange(status="offline", comment="retired"))
    assert off.status == Status.OFFLINE and "age_18_24" not in cat.names()
    with pytest.raises(TransitionError, match="offline → online is not allowed"):
        apply_change(cat, "age_18_24", TagChange(status="online"))
    # approving a proposal is the review step: offline → review → online is legal
    cat, back = approve(cat, "age_18_24", TagChange(rule="age_band = '25-34'", by="approver"))
    assert back.status == Status.ONLINE and back.version == off.version + 1


def test_a_tag_in_use_cannot_go_offline(catalogue: Catalogue) -> None:
    cat, _ = apply_change(catalogue, "age_18_24", TagChange(rule="age_25_34 OR age_band = '18-24'"))
    with pytest.raises(CatalogueError, match="uses 'age_25_34', which is offline"):
        apply_change(cat, "age_25_34", TagChange(status="offline"))


def test_overrides_overlay_the_package_and_export_in_its_form(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    t = change_tag(wh, "age_18_24", TagChange(name_en="Young adults", by="li"), today=DAY)
    assert (overrides_dir(wh) / "age_18_24.yaml").is_file() and _same(read_overrides(wh)["age_18_24"], t)
    cat = load_effective_catalogue(wh)
    assert cat.tags["age_18_24"].name_en == "Young adults" and cat.tags["age_18_24"].version == t.version
    # A second change builds on the first; history keeps both.
    t2 = change_tag(wh, "age_18_24", TagChange(status="offline", comment="merged"), today=DAY)
    assert [v.version for v in t2.history][-2:] == [t.version, t2.version] and t2.name_en == "Young adults"
    # Exported, the effective catalogue loads back unchanged, in the definitions' form.
    export_catalogue(load_effective_catalogue(wh), tmp_path / "out")
    again = load_catalogue(tmp_path / "out")
    assert _same(again.tags["age_18_24"], t2)
    # An override no newer than the package's entry is ignored (the package caught up).
    write_override(wh, load_catalogue().tags["age_18_24"])
    assert (
        load_effective_catalogue(wh).tags["age_18_24"].version == load_catalogue().tags["age_18_24"].version
    )


def test_a_broken_override_names_the_file(tmp_path: Path) -> None:
    folder = overrides_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "age_18_24.yaml").write_text(yaml.safe_dump({"tags": [{"id": "age_25_34"}]}), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"age_18_24\.yaml"):
        load_effective_catalogue(tmp_path)


def test_the_next_build_uses_an_approved_version(built, tmp_path: Path) -> None:
    src, _ = built
    wh = tmp_path / "wh"
    shutil.copytree(src, wh, symlinks=True)
    change_tag(wh, "age_18_24", TagChange(rule="age_band = '25-34'", by="approver"), approved=True)
    r = build(wh, period="2026-10", quiet=True, skip_missing_models=True)  # no catalogue given
    assert r.sources_built == []  # a rule change recomputes tags only, sources are reused
    wide = wh / "wide" / "current" / "wide.parquet"
    diff, n = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FILTER (WHERE age_18_24 IS DISTINCT FROM age_25_34), count(*) FILTER (WHERE age_18_24) "
            f"FROM read_parquet('{wide}')"
        )
        .fetchone()
    )
    assert diff == 0 and n > 0


def test_cli_status_and_history(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tagcloud.cli import app

    runner = CliRunner()
    w = ["--warehouse", str(tmp_path)]
    r = runner.invoke(
        app, ["tags", "status", "age_18_24", "offline", "--comment", "merged", "--by", "li", *w]
    )
    assert r.exit_code == 0 and "v2 offline" in r.output, r.output
    r = runner.invoke(app, ["tags", "status", "age_18_24", "online", "-m", "back", *w])
    assert r.exit_code == 2 and "offline → online is not allowed (allowed: offline → review)" in r.output
    r = runner.invoke(app, ["tags", "status", "age_18_2", "review", "-m", "x", *w])
    assert r.exit_code == 2 and "did you mean 'age_18_24'" in r.output
    r = runner.invoke(app, ["tags", "history", "age_18_24", *w])
    assert (
        r.exit_code == 0
        and "status online → offline — merged" in r.output
        and "offline, version 2" in r.output
    )

    out = tmp_path / "out"
    r = runner.invoke(app, ["tags", "export", str(out), *w])
    assert r.exit_code == 0, r.output
    assert load_catalogue(out).tags["age_18_24"].status == Status.OFFLINE
