"""``benchmarks/kernel_fingerprint.py``: the same process settings give the same
fingerprint bit for bit, scalar kernels another one, and ``--compare`` marks each op that
differs from the first fingerprint. Each fingerprint runs the script as a program, since
the kernels are chosen when torch loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "kernel_fingerprint.py"
OPS = 8


def _fingerprint(tmp_path: Path, label: str, *args: str) -> Path:
    out = tmp_path / f"{label}.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--label", label, *args, "--json", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return out


def _compare(*paths: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--compare", *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def test_one_setting_repeats_and_scalar_kernels_move_every_op(tmp_path: Path) -> None:
    first = _fingerprint(tmp_path, "first")
    again = _fingerprint(tmp_path, "again")
    scalar = _fingerprint(tmp_path, "scalar", "--capability", "default")
    runs = [json.loads(p.read_text()) for p in (first, again, scalar)]
    assert len(runs[0]["ops"]) == OPS
    assert runs[0]["ops"] == runs[1]["ops"]
    assert runs[2]["torch_kernels"] == "DEFAULT"
    assert runs[2]["variables"]["MKL_CBWR"] == "COMPATIBLE"
    # ATen's scalar code draws other random numbers, so nothing downstream can match.
    assert runs[2]["ops"]["randn"] != runs[0]["ops"]["randn"]
    table = _compare(first, again, scalar)
    assert f"again {OPS} of {OPS}" in table
    rows = [line for line in table.splitlines() if line.startswith("| randn |")]
    assert rows
    assert rows[0].count("≠") == 1  # the scalar column only


def test_compare_marks_the_one_op_that_differs(tmp_path: Path) -> None:
    base = {
        "label": "a",
        "capability": "own",
        "torch_kernels": "AVX2",
        "variables": {},
        "ops": {"randn": "aaa", "gemv (MKL)": "bbb"},
    }
    other = {**base, "label": "b", "ops": {"randn": "aaa", "gemv (MKL)": "ccc"}}
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(base))
    pb.write_text(json.dumps(other))
    table = _compare(pa, pb)
    assert "| gemv (MKL) | bbb | ccc ≠ |" in table
    assert "| randn | aaa | aaa |" in table
    assert "b 1 of 2" in table


def test_kernels_this_cpu_lacks_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    from canids_models import ModelsError, kernel_environment

    try:
        kernel_environment("avx512")
    except ModelsError:
        pass
    else:
        pytest.skip("this CPU runs AVX-512 kernels: nothing to refuse")
    out = tmp_path / "avx512.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--capability", "avx512", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "kernel_fingerprint.py: train.cpu_capability=avx512" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()
