"""The competition chain: who may verify, distribute and respond, and upload checks."""

from __future__ import annotations

import pytest

from tagcloud.campaigns.workflow import Actor
from tagcloud.regions.competition import (
    MAX_UPLOAD_BYTES,
    Action,
    CompetitionState,
    Report,
    UploadError,
    WorkflowError,
    check_upload,
    competition_policy,
    next_state,
)

POL = competition_policy()  # region codes extend their parent's (C01 → C01K01 → C01K01T01)
OFFICE = Actor("office", "county", "C01K01", can_approve=True)
DEPUTY = Actor("deputy", "county", "C01K01", can_approve=True)
CITY = Actor("city", "city", "C01", can_approve=True)


def _report(
    state: CompetitionState, verifiers: tuple[str, ...] = (), recipients: tuple[str, ...] = ()
) -> Report:
    return Report("C01K01T01", "field", state, verifiers, recipients)


def test_the_whole_chain() -> None:
    r = _report(CompetitionState.REPORTED)
    s1 = next_state(r, Action.VERIFY, OFFICE, POL)
    assert s1 == CompetitionState.OFFICE_VERIFIED
    s2 = next_state(_report(s1, ("office",)), Action.VERIFY, DEPUTY, POL, "match the offer")
    assert s2 == CompetitionState.COUNTY_VERIFIED
    s3 = next_state(_report(s2, ("office", "deputy")), Action.VERIFY, CITY, POL, "", ["head"], 2)
    assert s3 == CompetitionState.DISTRIBUTED
    s4 = next_state(
        _report(s3, ("office", "deputy", "city"), ("head",)),
        Action.RESPOND,
        Actor("head", "city", "C01"),
        POL,
        "a 5G offer",
    )
    assert s4 == CompetitionState.RESPONDED


def test_wrong_level_region_or_person_is_refused() -> None:
    r = _report(CompetitionState.REPORTED)
    with pytest.raises(WorkflowError, match="county reviewer"):
        next_state(r, Action.VERIFY, CITY, POL)  # the city acts at the third step only
    with pytest.raises(WorkflowError, match="county reviewer over C01K01T01"):
        next_state(r, Action.VERIFY, Actor("other", "county", "C01K02", can_approve=True), POL)
    with pytest.raises(WorkflowError, match="review_competition"):
        next_state(r, Action.VERIFY, Actor("x", "county", "C01K01"), POL)
    with pytest.raises(WorkflowError, match="another person"):
        next_state(_report(CompetitionState.OFFICE_VERIFIED, ("office",)), Action.VERIFY, OFFICE, POL, "x")
    with pytest.raises(WorkflowError, match="proposes a response"):
        next_state(_report(CompetitionState.OFFICE_VERIFIED, ("office",)), Action.VERIFY, DEPUTY, POL, "")


def test_city_step_needs_grade_and_recipients_and_respond_is_for_recipients() -> None:
    r = _report(CompetitionState.COUNTY_VERIFIED, ("office", "deputy"))
    with pytest.raises(WorkflowError, match="importance"):
        next_state(r, Action.VERIFY, CITY, POL, "", ["head"], None)
    with pytest.raises(WorkflowError, match="marketing head"):
        next_state(r, Action.VERIFY, CITY, POL, "", [], 1)
    d = _report(CompetitionState.DISTRIBUTED, recipients=("head",))
    with pytest.raises(WorkflowError, match="not one of"):
        next_state(d, Action.RESPOND, Actor("intruder", "city", "C01"), POL, "x")
    with pytest.raises(WorkflowError, match="nothing more"):
        next_state(
            _report(CompetitionState.RESPONDED), Action.RESPOND, Actor("head", "city", "C01"), POL, "x"
        )


def test_reject_needs_a_comment_and_closes() -> None:
    r = _report(CompetitionState.REPORTED)
    with pytest.raises(WorkflowError, match="comment"):
        next_state(r, Action.REJECT, OFFICE, POL, " ")
    assert next_state(r, Action.REJECT, OFFICE, POL, "duplicate") == CompetitionState.REJECTED


def test_uploads_are_checked_by_type_content_and_size() -> None:
    assert check_upload("leaflet.JPG", 1000, b"\xff\xd8\xff\xe0rest") == ".jpg"
    assert check_upload("note.txt", 10, "联通新套餐".encode()) == ".txt"
    with pytest.raises(UploadError, match="not allowed"):
        check_upload("virus.exe", 100, b"MZ\x90")
    with pytest.raises(UploadError, match=r"not a \.png"):
        check_upload("renamed.png", 100, b"MZ\x90\x00")
    with pytest.raises(UploadError, match="limit"):
        check_upload("big.pdf", MAX_UPLOAD_BYTES + 1, b"%PDF-1.7")
    with pytest.raises(UploadError, match="binary"):
        check_upload("x.txt", 10, b"ab\x00cd")
    with pytest.raises(UploadError, match="empty"):
        check_upload("x.pdf", 0, b"")
