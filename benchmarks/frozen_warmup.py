"""``eval.frozen_warmup``: the frozen protocol skipping each capture's first seconds against
scoring every window (the baseline, ``eval.frozen_warmup=0``), on the same detectors.

    uv run --no-sync python benchmarks/frozen_warmup.py --data ../shared/data/real \\
        --out benchmarks/out/frozen_warmup [--datasets set_01 hcrl_sa] [--seeds 0 1 2] \\
        [--warmup 2] [--sizes teacher] [--select validation|families]

Per dataset, size and seed, the pipeline runs once with every window (the baseline,
``eval.frozen_warmup=0``, set explicitly since 2 s became the default in canids-models
0.13.0; its finished stages are reused, so ``family_select.py``'s runs made by 0.12.0 or
earlier, whose default it was, can stand in: pass the same ``--out``), then its ``vgae``
and ``gat`` artifacts are copied to a second run whose fusion and evaluate stages run
with ``--set eval.frozen_warmup=W``. Printed per split and protocol: the default
fusion's F1 and both detectors' under each setting (mean ± std over the seeds), the
frozen VGAE's FPR, and how often the fusion falls below the better of its inputs by more
than 0.02. The calibrated protocol has its own warm-up; its figures move only where the
frozen thresholds it is guarded by do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import (
    BY_VALIDATION,
    JUDGE_0_17,
    build_cache,
    copy_detectors,
    mean_std,
    run_arguments,
    run_stages,
)


def runs(
    dataset: str, root: Path, seed: int, size: str, out: Path, log: Path, args: Any
) -> dict[str, Path]:
    cache = build_cache(dataset, root, out, log)
    common = (
        [f"train.seed={seed}"]
        + (["fusion.select=families"] if args.select == "families" else [BY_VALIDATION])
        + list(JUDGE_0_17)
    )
    sets = [*common, "eval.frozen_warmup=0"]
    base = out / "runs" / f"{dataset}-{args.select}-s{seed}"
    if size == "student":  # its teacher first (a no-op where it is done)
        run_stages(dataset, "teacher", base, cache, sets, log)
    run_stages(dataset, size, base, cache, sets, log)
    warm = out / "runs" / f"{dataset}-{args.select}-warm{args.warmup:g}-s{seed}"
    copy_detectors(base, warm, dataset, size)
    warm_sets = [*common, f"eval.frozen_warmup={args.warmup}"]
    if size == "student" and args.select == "families":
        # Its family runs distil from the teacher's family runs of the same run folder.
        copy_detectors(base, warm, dataset, "teacher")
        run_stages(dataset, "teacher", warm, cache, warm_sets, log)
    run_stages(dataset, size, warm, cache, warm_sets, log)
    return {"every window": base, f"skip {args.warmup:g} s": warm}


def figures(run_dir: Path, dataset: str, size: str) -> dict[str, Any]:
    m = json.loads((run_dir / dataset / size / "results" / "metrics.json").read_text())
    fused = f"fusion:{m['fusion_method']}"
    out: dict[str, Any] = {
        "pick": m["fusion_method"],
        "parameters": m["parameters"]["fusion"],
        "rows": {},
    }
    for r in m["rows"]:
        if r["held_out"] and r["model"] in ("gat", "vgae", fused):
            key = (r["split"], r["protocol"])
            out["rows"].setdefault(key, {})[r["model"].split(":")[0]] = r
    return out


def table(dataset: str, size: str, per_seed: list[dict[str, dict[str, Any]]]) -> list[str]:
    settings = list(per_seed[0])
    keys = sorted(per_seed[0][settings[0]]["rows"])
    lines = [
        f"\n### {dataset}, {size}: held-out F1, mean ± std over {len(per_seed)} seeds\n",
        "| split | protocol | setting | fusion | gat | vgae | vgae FPR | fusion below its "
        "better input by > 0.02 |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for split, protocol in keys:
        for setting in settings:
            rows = [s[setting]["rows"][(split, protocol)] for s in per_seed]
            below = sum(
                (r["fusion"]["f1"] or 0) < max(r["gat"]["f1"] or 0, r["vgae"]["f1"] or 0) - 0.02
                for r in rows
            )
            cells = [mean_std([r[k]["f1"] or 0.0 for r in rows]) for k in ("fusion", "gat", "vgae")]
            fpr = mean_std([r["vgae"]["fpr"] or 0.0 for r in rows])
            lines.append(
                f"| {split} | {protocol} | {setting} | "
                + " | ".join(cells)
                + f" | {fpr} | {below} of {len(rows)} |"
            )
    picks = {s: " / ".join(p[s]["pick"] for p in per_seed) for s in settings}
    lines.append("\npicks: " + "; ".join(f"{s}: {p}" for s, p in picks.items()))
    return lines


Settings = Callable[[str, Path, int, str], dict[str, Path]]


def setting_tables(args: Any, settings: Settings, out: Path, name: str) -> None:
    """Per dataset and size of ``args``, ``settings(dataset, root, seed, size)``'s run
    folders (one per setting, on the same detectors) for every seed, then :func:`table`:
    printed and written to ``out/name``."""
    lines: list[str] = []
    for dataset in args.datasets:
        root = Path(args.data).resolve() / dataset
        for size in args.sizes:
            per_seed = []
            for seed in args.seeds:
                dirs = settings(dataset, root, seed, size)
                per_seed.append({s: figures(d, dataset, size) for s, d in dirs.items()})
                print(f"{dataset} {size} seed {seed} done", flush=True)
            lines += table(dataset, size, per_seed)
    text = "\n".join(lines)
    (out / name).write_text(text + "\n")
    print(text)


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/frozen_warmup", [0])
    ap.add_argument("--sizes", nargs="+", default=["teacher"], choices=["teacher", "student"])
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--select", default="validation", choices=["validation", "families"])
    args = ap.parse_args()
    out, log = start_out(args.out, "frozen_warmup")

    def settings(dataset: str, root: Path, seed: int, size: str) -> dict[str, Path]:
        return runs(dataset, root, seed, size, out, log, args)

    setting_tables(args, settings, out, f"frozen_warmup-{args.select}.md")


if __name__ == "__main__":
    main()
