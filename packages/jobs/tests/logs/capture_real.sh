#!/usr/bin/env bash
# Re-capture the real_* logs of this folder by running canids-train on the demo dataset.
# Usage: packages/jobs/tests/logs/capture_real.sh   (from the repository root; ~3 min on CPU)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
train() { uv run --no-sync canids-train "$@"; }
cap() { # cap NAME ARGS...: stdout to NAME.out, stderr to NAME.err, any exit code
  local name="$1"; shift
  train "$@" >"$here/$name.out" 2>"$here/$name.err" || true
}
cap real_preflight_missing_cache fusion --dataset demo --size teacher \
  --runs-dir "$work/runs" --cache-dir "$work/emptycache"
uv run --no-sync canids-cache build --dataset demo --root "$work/data/demo" \
  --cache-dir "$work/cache" >/dev/null 2>&1
cap real_preflight_missing_artifact fusion --dataset demo --size teacher \
  --runs-dir "$work/runs" --cache-dir "$work/cache"
cap real_vgae_completed vgae --dataset demo --size student --runs-dir "$work/runs" \
  --cache-dir "$work/cache" --set train.epochs=1
train gat --dataset demo --size student --runs-dir "$work/runs" --cache-dir "$work/cache" \
  --set train.epochs=1 >/dev/null 2>&1
uv run --no-sync python - "$work/runs/default/demo/student/vgae/checkpoint.pt" <<'PY'
import sys, torch
ckpt = torch.load(sys.argv[1], weights_only=True)
ckpt["hparams"]["dropout_rate"] = 0.5  # a key VGAEConfig does not know
torch.save(ckpt, sys.argv[1])
PY
cap real_train_type_error fusion --dataset demo --size student --runs-dir "$work/runs" \
  --cache-dir "$work/cache"
# Lineage: the student's detectors were made under train.seed 0; a fusion under seed 1 may
# not read them, nor may one on another build of the cache (another validation draw).
cap real_preflight_other_config fusion --dataset demo --size student --runs-dir "$work/runs" \
  --cache-dir "$work/cache" --set train.seed=1
uv run --no-sync canids-cache build --dataset demo --root "$work/data/demo" \
  --cache-dir "$work/cache_val1" --val-seed 1 >/dev/null 2>&1
cap real_preflight_other_cache_build fusion --dataset demo --size student \
  --runs-dir "$work/runs" --cache-dir "$work/cache_val1"
touch -d 2020-01-01 "$(ls "$work"/data/demo/train_01_attack_free/*.parquet | head -n1)"
cap real_preflight_stale_cache gat --dataset demo --size student --runs-dir "$work/runs" \
  --cache-dir "$work/cache"
echo "captured into $here"
