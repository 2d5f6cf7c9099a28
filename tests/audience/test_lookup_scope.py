"""The reverse lookup honours the engine's region scope (the web no longer has to check alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagcloud.audience.query import AudienceEngine, OutOfScope


def test_lookup_outside_the_scope_is_refused(warehouse: Path, duck) -> None:
    scope = "county_id = 'C01K02'"
    eng = AudienceEngine.open(warehouse, scope=scope)
    # Numbers from every shard, inside and outside the county.
    rows = duck.execute("SELECT msisdn, county_id FROM wide USING SAMPLE 60 ROWS (reservoir, 5)").fetchall()
    rows += duck.execute("SELECT msisdn, county_id FROM wide WHERE county_id = 'C01K02' LIMIT 5").fetchall()
    assert {c == "C01K02" for _, c in rows} == {True, False}
    for number, county in rows:
        if county == "C01K02":
            assert eng.lookup(number)["county_id"] == county
        else:
            with pytest.raises(OutOfScope, match="outside the scope"):
                eng.lookup(number)
    # An unknown number is a KeyError but not a scope refusal; callers catching KeyError treat both alike.
    with pytest.raises(KeyError) as e:
        eng.lookup("19999999999")
    assert not isinstance(e.value, OutOfScope)
    assert issubclass(OutOfScope, KeyError)


def test_lookup_without_a_scope_reads_any_number(warehouse: Path, duck) -> None:
    number, county = duck.execute(
        "SELECT msisdn, county_id FROM wide WHERE county_id <> 'C01K02' LIMIT 1"
    ).fetchone()
    assert AudienceEngine.open(warehouse).lookup(number)["county_id"] == county
