"""Hot areas: cells inside a drawn polygon, and the membership condition over the index."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagcloud.regions.hotareas import Basis, HotAreaError, cells_in_polygon, check_cells, membership_condition

COLUMNS = {"home_cell": {"values": ["CL01", "CL02", "CL03"]}, "work_cell": {"values": ["CL02", "CL09"]}}


def test_polygon_selects_the_cells_inside() -> None:
    ids = ["in1", "in2", "out1", "out2"]
    lat = np.array([30.5, 30.2, 31.5, 30.5])
    lon = np.array([120.5, 120.8, 120.5, 119.5])
    square = [[120.0, 30.0], [121.0, 30.0], [121.0, 31.0], [120.0, 31.0]]
    assert cells_in_polygon(ids, lat, lon, square) == ["in1", "in2"]
    # a concave ring (an L) leaves out its notch
    ell = [[120, 30], [121, 30], [121, 30.4], [120.4, 30.4], [120.4, 31], [120, 31]]
    assert cells_in_polygon(ids, lat, lon, ell) == ["in2"]
    with pytest.raises(HotAreaError, match="three"):
        cells_in_polygon(ids, lat, lon, [[1, 2], [3, 4]])


@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=1, max_size=40))
def test_polygon_matches_a_box_test_for_rectangles(points: list[tuple[float, float]]) -> None:
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    ids = [f"c{i}" for i in range(len(points))]
    box = [[-0.5, -0.25], [0.5, -0.25], [0.5, 0.75], [-0.5, 0.75]]
    expect = [ids[i] for i in range(len(points)) if -0.5 < lon[i] < 0.5 and -0.25 < lat[i] < 0.75]
    got = cells_in_polygon(ids, lat, lon, box)
    # points exactly on an edge may fall either way; none in the sample draw lands there in practice
    edge = {ids[i] for i in range(len(points)) if lon[i] in (-0.5, 0.5) or lat[i] in (-0.25, 0.75)}
    assert set(got) - edge == set(expect) - edge


def test_membership_condition_per_basis() -> None:
    assert (
        membership_condition(["CL01", "CL02", "CL09"], Basis.HOME, COLUMNS) == "home_cell IN ('CL01', 'CL02')"
    )
    assert membership_condition(["CL01", "CL02", "CL09"], "work", COLUMNS) == "work_cell IN ('CL02', 'CL09')"
    either = membership_condition(["CL01", "CL09"], Basis.EITHER, COLUMNS)
    assert either == "home_cell IN ('CL01') OR work_cell IN ('CL09')"
    assert membership_condition(["ZZZZ"], Basis.EITHER, COLUMNS) == "FALSE"


def test_bad_cells_are_refused_not_quoted() -> None:
    with pytest.raises(HotAreaError, match="not a cell id"):
        check_cells(["C1'); DROP TABLE x; --"])
    with pytest.raises(HotAreaError, match="at least one"):
        check_cells([" "])
    with pytest.raises(HotAreaError, match="no home_cell"):
        membership_condition(["CL01"], Basis.HOME, {})
