import re
import subprocess
import sys
from pathlib import Path

import canids_core

README = Path(__file__).resolve().parents[1] / "README.md"


def test_all_names_import():
    for name in canids_core.__all__:
        assert getattr(canids_core, name) is not None


def _api_table() -> dict[str, str]:
    """README ``## API`` table: public name → the module its row names ("" for none)."""
    section = README.read_text().split("## API", 1)[1].split("\n## ", 1)[0]
    names: dict[str, str] = {}
    for row in section.splitlines():
        cells = [c.strip() for c in row.split("|")[1:-1]]
        if len(cells) != 3 or cells[0] in ("module", "---"):
            continue
        module = cells[0].strip("`")
        for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[1]):
            assert name not in names, f"{name} is listed twice"
            names[name] = module
    return names


def test_readme_lists_exactly_the_public_api_and_where_it_lives():
    table = _api_table()
    assert set(table) == set(canids_core.__all__)
    assert {n: m for n, m in table.items() if n != "__version__"} == canids_core._LAZY
    modules = {p.stem for p in Path(canids_core.__file__).parent.glob("*.py")} - {"__init__"}
    assert set(canids_core._LAZY.values()) == modules  # every module has public names


def test_readme_code_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


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
