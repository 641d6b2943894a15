#!/usr/bin/env bash
# canids-batching is published alone: install it into a bare venv (no workspace, no
# other canids package) and run its tests there. Optional extras are absent, so the
# tests that need them skip and the missing-extra errors are checked.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$(mktemp -d)/bare-venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
# uv installs from its cache (torch is about 3 GB; pip fetched it anew each run, ~3 min),
# resolving from this package's own metadata only, as pip does; pip then checks the result
# and installs the package itself, so the metadata is proven to work with plain pip too.
read -ra uv <<<"${UV:-uv}"  # "uv", or "python3 -m uv" where uv is not on PATH
"${uv[@]}" pip install --quiet --python "$venv/bin/python" "$here" pytest
"$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall "$here"
"$venv/bin/python" -m pip check
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
