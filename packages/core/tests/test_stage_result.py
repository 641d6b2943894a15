import itertools
import json

import pytest
from canids_core import (
    RESULT_PREFIX,
    CoreError,
    StageReport,
    StageResult,
    find_report,
    format_report,
    parse_report,
    stage_succeeded,
)

OK = StageReport(stage="vgae", dataset="demo", size="teacher", status="completed")
BAD = StageReport(
    stage="vgae", dataset="demo", size="teacher", status="failed", error_type="X", error="boom"
)


def test_the_rule_needs_every_piece_of_evidence():
    # Exhaustive over the evidence a local or Ray executor has: only one combination wins.
    wins = [
        (rc, rep, done)
        for rc, rep, done in itertools.product((0, 1, -9), (OK, BAD, None), (True, False))
        if stage_succeeded(rc, rep, done)
    ]
    assert wins == [(0, OK, True)]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("COMPLETED", True),
        ("FAILED", False),
        ("CANCELLED by 0", False),
        ("TIMEOUT", False),
        (None, True),
    ],
)
def test_the_scheduler_must_agree(state, expected):
    assert stage_succeeded(0, OK, True, state) is expected


def test_unknown_evidence_is_listed_not_counted():
    r = StageResult(executor="slurm", stage="vgae", dataset="demo", size="teacher", report=OK)
    assert r.succeeded
    assert r.unverified == ["exit code", "DONE record", "SLURM state"]


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"exit_code": 0, "report": OK, "done": False}, "DONE record does not exist"),
        ({"exit_code": 1, "report": BAD, "done": False}, "X: boom"),
        ({"exit_code": -9, "signal": 9}, "killed by signal 9"),
        ({"exit_code": 1}, "no CANIDS-STAGE-RESULT line"),
        ({"exit_code": 3, "report": OK, "done": True}, "exit code 3 although"),
    ],
)
def test_why_not(fields, why):
    r = StageResult(executor="local", stage="vgae", dataset="demo", size="teacher", **fields)
    assert not r.succeeded
    assert why in r.why_not()
    assert r.outcome == "failed"


def test_never_ran():
    r = StageResult(
        executor="slurm",
        stage="fusion",
        dataset="demo",
        size="teacher",
        scheduler_state="CANCELLED",
    )
    assert r.outcome == "never_ran"


def test_json_round_trip_carries_the_verdict():
    r = StageResult(
        executor="ray",
        stage="vgae",
        dataset="demo",
        size="teacher",
        exit_code=0,
        report=OK,
        done=True,
        job_id="abc",
    )
    data = json.loads(json.dumps(r.to_json()))
    assert data["succeeded"] is True
    assert data["outcome"] == "completed"
    assert data["version"] == 1
    assert StageResult.from_json(data) == r
    with pytest.raises(CoreError, match="not a canids stage result"):
        StageResult.from_json({**data, "executor": "k8s"})


def test_report_line_round_trip_and_unknown_keys_kept():
    line = format_report({**OK.model_dump(), "future_key": 3})
    assert line.startswith(RESULT_PREFIX)
    parsed = parse_report(line)
    assert parsed.status == "completed"
    assert parsed.model_extra == {"future_key": 3}


def test_find_report_takes_the_last_and_tolerates_damage():
    text = "\n".join(["epoch 1", format_report(BAD), "noise", format_report(OK)])
    assert find_report(text) == OK
    assert find_report(text + "\n" + RESULT_PREFIX + "{broken") is None
    assert find_report("no line here") is None
    with pytest.raises(CoreError, match="malformed"):
        parse_report(RESULT_PREFIX + '{"stage": "x"}')
