"""Cell changes between the network feed and the reference cells."""

from __future__ import annotations

from tagcloud.regions.cells import ChangeKind, detect_changes

REF = [
    {
        "cell_id": "A001",
        "lat": 30.0,
        "lon": 120.0,
        "rat": "4G",
        "township_id": "T1",
        "area_type": "rural_township",
    },
    {
        "cell_id": "A002",
        "lat": 30.1,
        "lon": 120.1,
        "rat": "4G",
        "township_id": "T1",
        "area_type": "university",
    },
    {
        "cell_id": "A003",
        "lat": 30.2,
        "lon": 120.2,
        "rat": "5G",
        "township_id": "T1",
        "area_type": "business_district",
    },
]


def test_new_changed_and_retired() -> None:
    feed = [
        {**REF[0], "lat": 30.0 + 1e-9},  # rounding, not a move
        {**REF[1], "township_id": "T2", "site_name": "新校区"},
        {
            "cell_id": "A009",
            "lat": 31.0,
            "lon": 121.0,
            "rat": "5G",
            "township_id": "T2",
            "area_type": "urban_residential",
        },
    ]
    changes = {c.cell_id: c for c in detect_changes(feed, REF)}
    assert set(changes) == {"A002", "A003", "A009"}
    assert changes["A002"].kind == ChangeKind.CHANGED and changes["A002"].fields == (
        "township_id",
        "site_name",
    )
    assert changes["A003"].kind == ChangeKind.RETIRED and changes["A003"].after == {}
    assert changes["A009"].kind == ChangeKind.NEW and changes["A009"].after["township_id"] == "T2"
    assert detect_changes(REF, REF) == []
