import subprocess
import sys

import canids_core


def test_all_names_import():
    for name in canids_core.__all__:
        assert getattr(canids_core, name) is not None


def test_readme_lists_every_module():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    modules = {p.stem for p in Path(canids_core.__file__).parent.glob("*.py")} - {"__init__"}
    assert {m for m in modules if f"`{m}`" not in readme} == set()


def test_no_heavy_import():
    code = (
        "import sys, canids_core; "
        "print(sorted(m for m in ('torch', 'numpy', 'zarr', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_is_loaded_lazily():
    assert set(canids_core._LAZY) == set(canids_core.__all__) - {"__version__"}
    assert set(dir(canids_core)) >= set(canids_core.__all__)


def test_errors_tables_and_names_cost_no_pydantic():
    """What every command's ``--help`` imports stays standard library only."""
    code = (
        "import sys, canids_core; "
        "canids_core.CanidsError, canids_core.format_table, canids_core.check_name; "
        "print('pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
