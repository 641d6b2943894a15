"""canids-models 0.18.0's calibration judge against 0.17.0's, on the same detectors.

    uv run python benchmarks/calibration_judge.py --data ../shared/data/real \\
        --out benchmarks/out/family_select [--datasets set_01] [--seeds 0 1 2] \\
        [--sizes teacher student]

Per dataset, seed and size, the detectors (``vgae`` and ``gat``) come from
``family_select.py``'s validation run in the same ``--out`` (``runs/<dataset>-validation-
s<seed>``, run here where missing), and are copied into two run folders whose fusion and
evaluate stages run under the default, once with 0.17.0's judge (``--set
calibration.clean_validation=false --set calibration.tie_margin=null``, folder
``<dataset>-judge0.17-s<seed>``) and once with 0.18.0's (``<dataset>-judge0.18-s<seed>``),
both with ``--set fusion.tie_order=simplest --set fusion.period_of=validation``, the
fusion choices until 0.18.0:
the fusion's pick, both detectors and the frozen figures are the same in both, so what
differs is the calibration judge alone. A student runs after its teacher in the same
folder (the families rule distils its held-out runs from the teacher's). Finished stages
are reused. Printed: per size, the calibration period and the default fusion's rule per
run, and each held-out split × protocol's F1 of the pick and of both detectors under each
judge, per seed and mean ± std.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import (
    BY_VALIDATION,
    CHOICES_0_18,
    JUDGE_0_17,
    build_cache,
    copy_detectors,
    mean_std,
    run_arguments,
    run_stages,
)
from family_select import write_outputs

# Both with the fusion tie order of their time (0.19.0 changed it: vehicle_holdout.py).
JUDGES: dict[str, tuple[str, ...]] = {"0.17": JUDGE_0_17, "0.18": CHOICES_0_18}
MODELS = ("pick", "vgae", "gat")


def judged_runs(
    dataset: str, root: Path, seed: int, size: str, out: Path, log: Path
) -> dict[str, Path]:
    """Both judges' run folders of ``size`` for one seed, on the validation run's detectors."""
    cache = build_cache(dataset, root, out, log)
    seed_set = f"train.seed={seed}"
    base = out / "runs" / f"{dataset}-validation-s{seed}"
    sizes = ("teacher", "student") if size == "student" else ("teacher",)
    for s in sizes:
        run_stages(dataset, s, base, cache, [seed_set, BY_VALIDATION], log)
    folders = {}
    for name, sets in JUDGES.items():
        run_dir = out / "runs" / f"{dataset}-judge{name}-s{seed}"
        for s in sizes:
            copy_detectors(base, run_dir, dataset, s)
            run_stages(dataset, s, run_dir, cache, [seed_set, *sets], log)
        folders[name] = run_dir
    return folders


def figures(run_dir: Path, dataset: str, size: str) -> dict[str, Any]:
    """The held-out F1 of the pick and both detectors per (split, protocol, model), and the
    calibration period and the pick's rule."""
    results = run_dir / dataset / size
    metrics = json.loads((results / "results" / "metrics.json").read_text())
    fusion = json.loads((results / "fusion" / "metrics.json").read_text())
    pick = metrics["fusion_method"]
    f1 = {}
    for r in metrics["rows"]:
        model = "pick" if r["model"] == f"fusion:{pick}" else r["model"]
        if r["held_out"] and model in MODELS:
            f1[(r["split"], r["protocol"], model)] = r["f1"]
    rule = fusion["calibration"][pick]
    label = f"{rule['rule']} {rule['param']:g}" + (" guarded" if rule["guard"] else "")
    period = f"{rule['seconds']:g} s after {rule['warmup']:g} s"
    return {"pick": pick, "f1": f1, "rule": f"{pick}: {label}, {period}"}


def table(dataset: str, size: str, runs: dict[int, dict[str, dict[str, Any]]]) -> list[str]:
    seeds = sorted(runs)
    lines = [f"\n### {dataset}, {size}: held-out F1 under each calibration judge\n"]
    for seed in seeds:
        rules = "; ".join(f"{j}: {runs[seed][j]['rule']}" for j in JUDGES)
        lines.append(f"- seed {seed}: {rules}")
    lines.append("\n| split | protocol | model | " + " | ".join(JUDGES) + " |")
    lines.append("|---|---|---|" + "---|" * len(JUDGES))
    for key in sorted(runs[seeds[0]]["0.18"]["f1"]):
        cells = []
        for judge in JUDGES:
            values = [runs[s][judge]["f1"].get(key) for s in seeds]
            shown = " / ".join("-" if v is None else f"{v:.3f}" for v in values)
            cells.append(f"{shown} ({mean_std(values)})")
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/family_select", [0, 1, 2])
    ap.add_argument("--sizes", nargs="+", default=["teacher"], choices=["teacher", "student"])
    args = ap.parse_args()
    out, log = start_out(args.out, "calibration_judge")
    lines: list[str] = []
    record: dict[str, Any] = {}
    for dataset in args.datasets:
        root = Path(args.data).resolve() / dataset
        for size in args.sizes:
            runs = {}
            for seed in args.seeds:
                folders = judged_runs(dataset, root, seed, size, out, log)
                runs[seed] = {j: figures(folders[j], dataset, size) for j in JUDGES}
            lines += table(dataset, size, runs)
            record[f"{dataset}/{size}"] = {
                str(seed): {
                    j: r[j] | {"f1": {"/".join(k): v for k, v in r[j]["f1"].items()}}
                    for j in JUDGES
                }
                for seed, r in runs.items()
            }
    write_outputs(out, "calibration_judge", record, lines)


if __name__ == "__main__":
    main()
