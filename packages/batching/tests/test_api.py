"""The public API: complete, importable, documented, and free of forbidden imports."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import canids_batching

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
SRC = Path(canids_batching.__file__).resolve().parent


def test_every_name_in_all_is_importable() -> None:
    for name in canids_batching.__all__:
        assert getattr(canids_batching, name) is not None, name
    assert len(set(canids_batching.__all__)) == len(canids_batching.__all__)


def test_all_matches_the_readme_api_list() -> None:
    readme = (PACKAGE_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## API", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `([A-Za-z_][A-Za-z0-9_]*)", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(canids_batching.__all__)


def test_version_and_typing_marker() -> None:
    assert canids_batching.__version__ == "0.2.0"
    assert resources.files("canids_batching").joinpath("py.typed").is_file()


def test_sources_import_only_torch_numpy_and_lazy_extras() -> None:
    allowed = {"torch", "numpy", "canids_batching", "__future__"}
    lazy = {"torch_geometric", "matplotlib"}
    stdlib = set(sys.stdlib_module_names)
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            bad = roots - allowed - stdlib
            # Extras may only be imported inside functions (after require()).
            if bad & lazy:
                assert node.col_offset > 0, f"{path.name}: top-level import of {bad}"
                bad -= lazy
            assert not bad, f"{path.name} imports {bad}"


def test_importing_the_package_loads_no_extra() -> None:
    code = (
        "import sys, canids_batching\n"
        "bad = [m for m in ('torch_geometric', 'matplotlib', 'ray', 'zarr', 'click') "
        "if m in sys.modules]\n"
        "bad += [m for m in sys.modules if m.startswith('canids_') "
        "and not m.startswith('canids_batching')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_library_code_never_prints() -> None:
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, f"{path.name} calls print()"


def test_errors_subclass_builtins() -> None:
    assert issubclass(canids_batching.BatchingError, ValueError)
    assert issubclass(canids_batching.BatchingWarning, UserWarning)
