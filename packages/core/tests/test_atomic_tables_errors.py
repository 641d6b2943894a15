import json
import math
import os

import pytest
from canids_core import (
    atomic_file,
    atomic_write_json,
    atomic_write_text,
    describe_validation_error,
    field_path,
    format_table,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError


def test_atomic_write_replaces_whole(tmp_path):
    path = tmp_path / "sub" / "f.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert path.read_text().endswith("\n")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(path.parent) == ["f.json"]


def test_atomic_failure_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old")

    def write_and_die():
        with atomic_file(path) as fh:
            fh.write(b"half")
            raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed mid-write"):
        write_and_die()
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_json_refuses_what_json_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="not JSON compliant"):
        atomic_write_json(tmp_path / "x.json", {"v": math.nan})
    with pytest.raises(TypeError, match="not JSON serializable"):
        atomic_write_json(tmp_path / "x.json", {"v": object()})
    assert not (tmp_path / "x.json").exists()


def test_plain_table_aligns_numbers_right():
    text = format_table(["stage", "jobs", "rate"], [["vgae", 10, "73.7 %"], ["fusion", 3, None]])
    lines = text.splitlines()
    assert lines[0] == "stage   jobs       rate"
    assert lines[2] == "vgae      10     73.7 %"
    assert lines[3] == "fusion     3  undefined"


def test_markdown_table():
    text = format_table(["split", "f1"], [["t01", "0.999"]], style="markdown")
    assert text.splitlines() == ["| split | f1 |", "| --- | ---: |", "| t01 | 0.999 |"]


def test_table_rows_must_match_the_header():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        format_table(["a", "b", "c"], [[1, 2]])


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    heads: int = Field(ge=1)


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gat: _Inner
    items: list[int] = []


def test_validation_errors_name_source_and_path():
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate({"gat": {"heads": 0, "head": 2}, "items": [1, "x"]})
    text = describe_validation_error(info.value, "best.toml", known={"gat": ["heads"]})
    lines = text.splitlines()
    assert "best.toml: gat.heads: must be >= 1 (got 0)" in lines
    assert "best.toml: gat.head: unknown key; known: heads" in lines
    assert any(line.startswith("best.toml: items[1]: ") for line in lines)
    assert field_path(()) == "(top level)"
