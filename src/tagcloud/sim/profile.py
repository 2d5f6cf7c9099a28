"""Generator profiles: the dev province the models are tuned on, and a held-apart test province.

``dev`` is the simulator as it always was (every knob at its default, no extra realism). ``test``
(``tagcloud simulate --profile test``) draws every knob below from a documented range around its
default with its own random stream, and switches on realism the dev province lacks: teachers,
canteen staff and nearby residents in campus cells every day, students living off campus,
neighbouring-cell ping-pong, migrants phoning home at hours of their own. The drawn values are
written to the export's manifest (``generator``), so a figure on the test province can be read
against what the generator did; the models never see them (``tagcloud.models`` may not import
``tagcloud.sim``: an import-linter contract).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tagcloud.sim.geography import Geography
    from tagcloud.sim.population import Population

PROFILES = ("dev", "test")


@dataclass(frozen=True)
class Knobs:
    """Behavioural constants of the generator; defaults are the dev province's."""

    # hour shifts of every persona's work window (start, end), in hours
    work_start_shift: int = 0
    work_end_shift: int = 0
    at_work_p: float = 0.92  # chance of being at the work cell in work hours of a working day
    wander_workday: float = 0.08  # chance an event is somewhere random in the home city
    wander_day_off: float = 0.2
    shared_handset_p: float = 0.4  # chance a shared handset's event is the second user's
    # competitors' migrant workers: call hours and weights (24 weights, one per hour)
    migrant_hour_weights: tuple[float, ...] = field(
        default=tuple({12: 0.1, 13: 0.1, 19: 0.2, 20: 0.25, 21: 0.25, 22: 0.1}.get(h, 0.0) for h in range(24))
    )
    migrant_call_rate: float = 0.25  # calls a day per (migrant, contact) link
    registered_elsewhere: float = 0.15  # registered region differs from the true home
    persona_share_factors: tuple[float, ...] = ()  # one per persona, scaling its share (empty: as is)
    # realism the dev province lacks (0 = off)
    campus_staff_share: float = 0.0  # of working adults in a university's city: work in its cells
    campus_resident_share: float = 0.0  # of urban residents without a family: live in campus cells
    students_off_campus: float = 0.0  # of university students without a family: live off campus
    pingpong: float = 0.0  # chance an event is served by another cell of the same township

    def manifest(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


# The ranges the test profile draws from (uniform; integers inclusive). Chosen to be plausible
# variation around the defaults, not to favour any model.
TEST_RANGES: dict[str, tuple[float, float]] = {
    "work_start_shift": (-1, 1),
    "work_end_shift": (-1, 1),
    "at_work_p": (0.8, 0.95),
    "wander_workday": (0.05, 0.15),
    "wander_day_off": (0.15, 0.3),
    "shared_handset_p": (0.3, 0.6),
    "migrant_call_rate": (0.15, 0.35),
    "registered_elsewhere": (0.10, 0.20),
    "campus_staff_share": (0.03, 0.08),
    "campus_resident_share": (0.02, 0.05),
    "students_off_campus": (0.10, 0.25),
    "pingpong": (0.05, 0.15),
}


def knobs_for(profile: str, seed: int) -> Knobs:
    """The dev knobs, or the test knobs drawn from :data:`TEST_RANGES` with ``seed``."""
    if profile == "dev":
        return Knobs()
    if profile != "test":
        raise ValueError(f"--profile must be one of {', '.join(PROFILES)} (got {profile!r})")
    rng = np.random.default_rng([seed, 4242])
    values: dict[str, Any] = {}
    for name, (lo, hi) in TEST_RANGES.items():
        if isinstance(getattr(Knobs, name, None), int) and not isinstance(getattr(Knobs, name), bool):
            values[name] = int(rng.integers(int(lo), int(hi) + 1))
        else:
            values[name] = round(float(rng.uniform(lo, hi)), 3)
    # migrants phone home when THEY are free: most weight in the evening, some at lunch, some late,
    # a little in working hours and in the early morning (a night-shift worker's evening)
    w = np.full(24, 0.01)
    w[6:9] = rng.uniform(0.01, 0.05, 3)
    w[11:14] = rng.uniform(0.03, 0.12, 3)
    w[17:24] = rng.uniform(0.05, 0.25, 7)
    values["migrant_hour_weights"] = tuple(round(float(x), 4) for x in w / w.sum())
    # the persona mix (more or fewer shift workers, migrants, students …): each share × 0.7 … 1.4
    from tagcloud.sim.personas import PERSONAS

    values["persona_share_factors"] = tuple(round(float(x), 3) for x in rng.uniform(0.7, 1.4, len(PERSONAS)))
    return Knobs(**values)


def apply_realism(pop: Population, g: Geography, k: Knobs, rng: np.random.Generator) -> None:
    """Move home and work cells for the realism items (in place, before anything is generated).

    Campus cells: teachers and canteen staff (working adults of the university's city) work there;
    nearby residents (family housing on campus) live there; some students rent off campus (an
    urban residential cell of the same city). People in planted families are left where they are,
    so families still share a night cell. ``pop.traits['campus_daily']`` marks the non-students
    moved into campus cells (the truth reports it).
    """
    from tagcloud.sim.geography import AT
    from tagcloud.sim.personas import PERSONA_INDEX

    n = pop.n
    campus_cells = np.flatnonzero(g.cell_area == AT["university"])
    residential = np.flatnonzero(g.cell_area == AT["urban_residential"])
    campus_daily = np.zeros(n, bool)
    if len(campus_cells):
        cell_city = g.cell_city.astype(np.int64)
        campus_city = cell_city[campus_cells]
        free = pop.family_id < 0
        adults = np.isin(
            pop.persona,
            [PERSONA_INDEX[p] for p in ("white_collar_commuter", "urban_service_worker", "professional")],
        )
        home_city = cell_city[pop.home_cell]
        near = np.isin(home_city, campus_city)
        staff = np.flatnonzero(adults & near & (rng.random(n) < k.campus_staff_share))
        residents = np.flatnonzero(
            free & near & ~adults & (pop.school_site < 0) & (g.cell_area[pop.home_cell] == AT["urban_residential"])
            & (rng.random(n) < k.campus_resident_share)
        )  # fmt: skip
        for who, attr in ((staff, "work_cell"), (residents, "home_cell")):
            for i in who:
                choices = campus_cells[campus_city == home_city[i]]
                getattr(pop, attr)[i] = choices[rng.integers(len(choices))]
        campus_daily[staff] = True
        campus_daily[residents] = True
        students = np.flatnonzero(
            (pop.persona == PERSONA_INDEX["university_student"])
            & free
            & (rng.random(n) < k.students_off_campus)
        )
        res_city = cell_city[residential]
        for i in students:
            choices = residential[res_city == cell_city[pop.home_cell[i]]]
            if len(choices):
                pop.home_cell[i] = choices[rng.integers(len(choices))]
    pop.traits["campus_daily"] = campus_daily
