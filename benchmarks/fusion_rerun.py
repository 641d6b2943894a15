"""A fusion stage run again with another fusion setting: the held-out family runs reuse
their detectors (canids-models 0.25.0) against training them again (every rerun before
it, the named baseline), in one run; seconds, ratio, and whether both give the same fit.

    uv run python benchmarks/fusion_rerun.py --data ../shared/data/real \\
        --out benchmarks/out/fusion_rerun [--datasets set_01] [--seeds 0] \\
        [--option fusion.tie_order=simplest]

Per dataset and seed, with the default config (``fusion.select=auto``: the families rule
wherever the training captures hold two attack families):

- ``first``: the teacher's VGAE and curriculum GAT, then its fusion stage, which trains
  every family's detectors (``runs/<dataset>-s<seed>``);
- ``reused``: the fusion stage again in that run folder with ``--option`` (a setting no
  detector reads): the families' detectors are reused;
- ``retrained``: the fusion stage with ``--option`` on a copy of the run's two detectors
  alone (``runs/<dataset>-retrained-s<seed>``): every family's detectors trained again,
  as any rerun did before 0.25.0.

Printed: each fusion stage's wall seconds (the ``canids-train`` process, start-up
included), ``retrained / reused``, and whether ``reused`` and ``retrained`` agree on the
pick, every threshold and calibration rule, the DQN's history and every family's figures
(they must: training is deterministic on the CPU). Timings on a shared machine are noisy:
compare the ratio, not the seconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import build_cache, copy_detectors, run, run_arguments, stage_command
from family_select import write_outputs

COMPARED = ("method", "thresholds", "calibration", "dqn_history")


QUIET = ("--no-wandb", "--quiet")


def fusion(dataset: str, run_dir: Path, cache: Path, sets: list[str], log: Path) -> float:
    """The teacher's fusion stage into ``run_dir`` (its DONE record removed first, so it
    runs); its wall seconds."""
    shutil.rmtree(run_dir / dataset / "teacher" / "fusion", ignore_errors=True)
    return run(stage_command(dataset, "teacher", "fusion", run_dir, cache, sets, QUIET), log)


def detectors(dataset: str, run_dir: Path, cache: Path, sets: list[str], log: Path) -> None:
    for stage, key in (("vgae", "vgae"), ("gat_curriculum", "gat")):
        if not (run_dir / dataset / "teacher" / key / "DONE.json").is_file():
            run(stage_command(dataset, "teacher", stage, run_dir, cache, sets, QUIET), log)


def fit(run_dir: Path, dataset: str) -> dict[str, Any]:
    return json.loads((run_dir / dataset / "teacher" / "fusion" / "metrics.json").read_text())


def agreement(reused: dict[str, Any], retrained: dict[str, Any]) -> list[str]:
    """What differs between the two fits (nothing, where reuse is right)."""
    differ = [key for key in COMPARED if reused[key] != retrained[key]]

    def figures(metrics: dict[str, Any]) -> dict[str, Any]:
        families = metrics["selection"].get("families") or {}
        return {f: {k: v for k, v in fig.items() if k != "reused"} for f, fig in families.items()}

    if figures(reused) != figures(retrained):
        differ.append("families")
    return differ


def one(dataset: str, seed: int, cache: Path, option: str, out: Path, log: Path) -> dict:
    sets = [f"train.seed={seed}"]
    base = out / "runs" / f"{dataset}-s{seed}"
    detectors(dataset, base, cache, sets, log)
    first = fusion(dataset, base, cache, sets, log)
    reused = fusion(dataset, base, cache, [*sets, option], log)
    reused_fit = fit(base, dataset)
    other = out / "runs" / f"{dataset}-retrained-s{seed}"
    shutil.rmtree(other, ignore_errors=True)
    copy_detectors(base, other, dataset, "teacher")
    retrained = fusion(dataset, other, cache, [*sets, option], log)
    families = reused_fit["selection"].get("families") or {}
    return {
        "dataset": dataset,
        "seed": seed,
        "families": len(families),
        "reused_families": sum(all(f["reused"].values()) for f in families.values()),
        "seconds": {"first": first, "reused": reused, "retrained": retrained},
        "ratio": retrained / reused,
        "differ": agreement(reused_fit, fit(other, dataset)),
    }


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/fusion_rerun", [0])
    ap.set_defaults(datasets=["set_01"])
    ap.add_argument("--option", default="fusion.tie_order=simplest", help="a fusion setting")
    args = ap.parse_args()
    out, log = start_out(args.out, "fusion_rerun")
    root = Path(args.data).resolve()
    results = []
    for dataset in args.datasets:
        cache = build_cache(dataset, root, out, log)
        results += [one(dataset, s, cache, args.option, out, log) for s in args.seeds]
    lines = [
        f"fusion stage again with --set {args.option}; baseline: the families' detectors "
        "trained again (every rerun before canids-models 0.25.0)\n",
        "| dataset | seed | families reused | first fusion s | retrained s (baseline) | "
        "reused s | retrained / reused | fits differ in |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        s = r["seconds"]
        lines.append(
            f"| {r['dataset']} | {r['seed']} | {r['reused_families']} of {r['families']} | "
            f"{s['first']:.1f} | {s['retrained']:.1f} | {s['reused']:.1f} | "
            f"{r['ratio']:.2f}x | {', '.join(r['differ']) or 'nothing'} |"
        )
    write_outputs(out, "fusion_rerun", {"results": results}, lines)
    if any(r["differ"] for r in results):
        raise SystemExit("the reused and retrained fits differ: see the table")


if __name__ == "__main__":
    main()
