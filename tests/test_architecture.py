"""The rules ``docs/architecture.md`` states, checked on every source file, so the page
cannot drift from the code: layers only look down, libraries neither import click nor
print, canids-batching stands alone, and importing a library costs no heavy import."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The layers, bottom first: a package may import only the packages below it.
LAYERS = {
    "canids_core": set(),
    "canids_batching": set(),  # standalone: installable alone, imports no canids package
    "canids_data": {"canids_core"},
    "canids_models": {"canids_core", "canids_data", "canids_batching"},
    "canids_orchestrate": {"canids_core", "canids_data", "canids_batching", "canids_models"},
    "canids_jobs": {"canids_core", "canids_data", "canids_batching", "canids_models"},
}
# The library prints: a Ray task echoes its stage's output lines to the worker's stdout,
# which Ray forwards to the driver's terminal (the user sees the stage as it runs); a Ray
# Train rank does the same with its epoch lines (data_parallel).
PRINT_ALLOWED = {
    "packages/orchestrate/src/canids_orchestrate/ray_exec.py",
    "packages/orchestrate/src/canids_orchestrate/data_parallel.py",
}


def _library_sources() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(REPO.glob("packages/*/src/canids_*/**/*.py")):
        package = path.relative_to(REPO).parts[3]
        found.append((package, path))
    assert {p for p, _ in found} >= {"canids_core", "canids_data", "canids_models"}
    return found


def _imports(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_layers_only_look_down_and_libraries_never_import_click():
    problems = []
    for package, path in _library_sources():
        allowed = LAYERS.get(package)
        if allowed is None:
            continue  # a package of test support (canids_testkit) is not a layer
        imported = _imports(ast.parse(path.read_text()))
        upward = {m for m in imported if m.startswith("canids_") and m != package} - allowed
        if upward:
            problems.append(f"{path.relative_to(REPO)} imports {sorted(upward)}")
        if "click" in imported:
            problems.append(f"{path.relative_to(REPO)} imports click (CLIs live in apps/)")
    assert problems == []


def test_libraries_do_not_print():
    problems = []
    for _, path in _library_sources():
        rel = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
                and rel not in PRINT_ALLOWED
            ):
                problems.append(f"{rel}:{node.lineno}")
    assert problems == [], "libraries report through return values, callbacks and errors"
    for rel in PRINT_ALLOWED:  # the exception still exists (else drop it from the doc)
        assert "print(" in (REPO / rel).read_text(), rel


def test_batching_declares_no_canids_dependency():
    project = tomllib.loads((REPO / "packages/batching/pyproject.toml").read_text())["project"]
    extras = [dep for group in project["optional-dependencies"].values() for dep in group]
    deps = [*project["dependencies"], *extras]
    assert not [d for d in deps if d.startswith("canids")]


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("canids_core", ("pydantic", "numpy", "torch", "zarr", "click")),
        ("canids_data", ("numpy", "torch", "zarr", "pyarrow", "pydantic")),
        ("canids_models", ("torch", "torch_geometric", "zarr")),
    ],
)
def test_importing_a_library_loads_nothing_heavy(module, absent):
    code = f"import sys, {module}; print(sorted(m for m in {absent!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_package_errors_share_the_canids_root():
    from canids_core import CanidsError, CoreError
    from canids_data import CanidsDataError
    from canids_models import ModelsError

    assert all(issubclass(e, CanidsError) for e in (CoreError, CanidsDataError, ModelsError))


def test_the_readme_package_table_gives_each_package_s_own_version():
    import re

    rows = re.findall(
        r"^\| \[`(canids-[a-z]+)`\]\(([^)]+)\) \|.*\| ([^|]+) \|$",
        (REPO / "README.md").read_text(),
        flags=re.M,
    )
    assert len(rows) >= 7, "the README's package table was not found"
    for name, folder, shown in rows:
        with open(REPO / folder / "pyproject.toml", "rb") as fh:
            project = tomllib.load(fh)["project"]
        assert project["name"] == name, folder
        assert shown.strip() == project["version"], f"README.md shows {name} {shown.strip()}"
