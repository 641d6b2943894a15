"""``benchmarks/startup_bytecode.py``: the baseline finds no ``.pyc`` and writes none, the
compiled side reads the ones an install compiled, and an uncompiled venv is named with
the command that compiles it."""

from __future__ import annotations

import compileall
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def sb(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("startup_bytecode")


def _package(root: Path, modules: int) -> str:
    """A package of ``modules`` submodules on the children's path; its import line."""
    pkg = root / "tinypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("".join(f"from . import m{i}\n" for i in range(modules)))
    for i in range(modules):
        (pkg / f"m{i}.py").write_text(f"VALUE = {i}\n")
    return "import tinypkg"


def test_the_baseline_compiles_from_source_and_the_install_s_pyc_are_read(
    sb: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _package(tmp_path / "site", 20)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    _, modules, before = sb.import_run(line, None)
    assert compileall.compile_dir(tmp_path / "site", quiet=1)
    _, modules_after, after = sb.import_run(line, None)
    assert modules_after == modules
    assert after - before == 21  # the package and its 20 submodules, now compiled
    empty = tmp_path / "empty"
    empty.mkdir()
    _, modules_source, with_pyc = sb.import_run(line, empty)
    assert (modules_source, with_pyc) == (modules, 0)
    assert not any(empty.iterdir())  # PYTHONDONTWRITEBYTECODE: the prefix stays empty


def test_an_uncompiled_venv_is_named_with_its_fix(
    sb: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _package(tmp_path / "site", 300)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    out = tmp_path / "figures.json"
    assert sb.main(["--repeats", "1", "--imports", line, "--json", str(out)]) == 1
    err = capsys.readouterr().err
    assert "the venv is not compiled" in err
    assert "make sync" in err
    assert out.is_file()  # the figures are kept: they say how far from compiled it is
    assert not list((tmp_path / "site").rglob("*.pyc"))


def test_a_failing_import_is_an_error_that_shows_it(sb: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="No module named 'no_such_module'"):
        sb.import_run("import no_such_module", None)
