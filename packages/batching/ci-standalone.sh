#!/usr/bin/env bash
# canids-batching is published alone: install it with plain pip into a bare venv (no
# workspace, no other canids package) and run its tests there. Optional extras are
# absent, so the tests that need them skip and the missing-extra errors are checked.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$(mktemp -d)/bare-venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "$here" pytest
cd "$here/../.."
# No other canids package may be importable here.
"$venv/bin/python" - <<'PY'
import importlib.util
for name in ("canids_data", "ray", "zarr", "click", "torch_geometric", "matplotlib"):
    assert importlib.util.find_spec(name) is None, f"{name} leaked into the bare venv"
import canids_batching
print("canids-batching", canids_batching.__version__, "imports alone")
PY
# pytest's own exit status: 5 ("no tests collected") is a failure, not a pass.
"$venv/bin/python" -m pytest "$here/tests" -p no:cacheprovider -q
