"""``CANIDS-STAGE-RESULT {json}``: format, parse and find."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canids_models import RESULT_PREFIX, find_result, format_result, parse_result

RECORD = {
    "status": "completed",
    "stage": "gat",
    "dataset": "demo",
    "size": "student",
    "metrics": {"best_val_f1": 0.9, "fallback": None, "f1": {"val/gat": None}},
    "artifacts": {"checkpoint": "/runs/x/checkpoint.pt"},
    "wall_seconds": 1.5,
    "error": "line one\nline two",
}


def test_round_trip():
    line = format_result(RECORD)
    assert line.startswith(RESULT_PREFIX)
    assert RESULT_PREFIX == "CANIDS-STAGE-RESULT "
    assert "\n" not in line  # one line, even with a multi-line error message
    assert parse_result(line) == RECORD
    assert json.loads(line[len(RESULT_PREFIX) :]) == RECORD


def test_values_json_cannot_hold_become_strings():
    line = format_result({"path": Path("/a/b"), "n": 1})
    assert parse_result(line) == {"path": "/a/b", "n": 1}


def test_find_takes_the_last_result_line():
    first = format_result({**RECORD, "status": "failed"})
    text = "\n".join(["epoch 0 ...", first, "noise", format_result(RECORD), "trailing output"])
    assert find_result(text) == RECORD
    assert find_result("no result here\nat all") is None
    assert find_result("") is None


def test_a_truncated_result_line_is_no_result():
    assert find_result("x\n" + format_result(RECORD)[:-5]) is None


def test_parse_refuses_other_lines():
    with pytest.raises(ValueError, match="not a stage result line"):
        parse_result('{"status": "completed"}')
    with pytest.raises(ValueError, match="not a stage result line"):
        parse_result(" " + format_result(RECORD))
