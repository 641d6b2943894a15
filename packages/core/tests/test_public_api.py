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
