"""Import-layer rule: only the artifact store computes where an artifact lives.

Every library and app source is parsed; outside ``canids_models/artifacts.py`` an artifact
file name may only be handed to an ArtifactStore method (``store.save(..., "checkpoint.pt",
...)``), never joined into a path, and no code joins paths under ``runs``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STORE_MODULE = REPO / "packages/models/src/canids_models/artifacts.py"
FILE_NAMES = ("checkpoint.pt", "DONE.json", "metrics.json", "train_state.pt", "config.json")
# ArtifactStore methods that take a file name and build the path themselves.
STORE_METHODS = {"path", "save", "load", "write_json", "read_json", "write_text"}


def sources() -> list[Path]:
    found = sorted(REPO.glob("packages/*/src/**/*.py")) + sorted(REPO.glob("apps/*/src/**/*.py"))
    assert STORE_MODULE in found
    # Synthetic SLURM outputs imitate another machine's log text (its paths included); they
    # name artifacts as strings in logs and never build a path on this one.
    imitations = {REPO / "packages/testkit/src/canids_testkit/synthetic_outputs.py"}
    return [p for p in found if p != STORE_MODULE and p not in imitations]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _runs_path(text: str) -> bool:
    return text == "runs" or text.startswith("runs/") or "/runs/" in text or text.endswith("/runs")


def violations(source: str, where: str = "<src>") -> list[str]:
    """Places in ``source`` that build artifact paths without the artifact store."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in docs:
            continue
        text = node.value
        if _runs_path(text):
            found.append(f"{where}:{node.lineno}: path under 'runs' ({text!r})")
            continue
        hit = next((name for name in FILE_NAMES if name in text), None)
        if hit is None:
            continue
        parent = parents.get(id(node))
        handed_to_store = (
            text == hit
            and isinstance(parent, ast.Call)
            and node in parent.args
            and isinstance(parent.func, ast.Attribute)
            and parent.func.attr in STORE_METHODS
        )
        if not handed_to_store:
            found.append(f"{where}:{node.lineno}: artifact file name outside the store ({text!r})")
    return found


def test_only_the_artifact_store_builds_artifact_paths():
    found = []
    for path in sources():
        found += violations(path.read_text(), str(path.relative_to(REPO)))
    assert not found, "\n".join(found)


def test_the_store_module_is_where_the_names_live():
    text = STORE_MODULE.read_text()
    for name in FILE_NAMES:
        assert f'"{name}"' in text
    assert '"runs"' in text


@pytest.mark.parametrize(
    "snippet",
    [
        'p = runs_dir / run / ds / size / "gat" / "checkpoint.pt"',
        'p = os.path.join(base, "DONE.json")',
        'p = Path("runs") / "x"',
        'p = f"{root}/metrics.json"',
        'p = base.joinpath("train_state.pt")',
        'open(ckpt_dir + "/checkpoint.pt")',
        'p = Path(f"runs/{run}")',
    ],
)
def test_the_check_catches_path_building(snippet):
    assert violations(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        'store.save(ds, size, key, "checkpoint.pt", state)',
        'store.write_json(ds, size, key, "metrics.json", m)',
        'p = store.path(ds, size, key, "train_state.pt")',
        'def f():\n    """Writes DONE.json last."""',
    ],
)
def test_the_check_allows_handing_names_to_the_store(snippet):
    assert violations(snippet) == []


def test_canids_models_only_looks_down():
    """No click, no user printing, and no import of the layers above (jobs, orchestrate,
    apps)."""
    forbidden = ("click", "canids_cli", "canids_jobs", "canids_orchestrate")
    found = []
    for path in sorted((REPO / "packages/models/src/canids_models").rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = path.relative_to(REPO)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [
                f"{where}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] in forbidden
            ]
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                found.append(f"{where}:{node.lineno}: print()")
    assert not found, "\n".join(found)
