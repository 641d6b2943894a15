"""``distill.select``: the distilled student's GAT kept by validation F1 (the default) or by
fidelity to its teacher, judged on the held-out attack families of the training captures.

    uv run --no-sync python benchmarks/distill_select.py --dataset hcrl_sa \\
        --cache-dir CACHE --out OUT --runs RUN_DIR [RUN_DIR ...]

Each RUN_DIR is a finished default run folder (teacher and student, the fusion stage under
the families rule, as ``benchmarks/detection_ablation.py`` writes them), one per seed. For
each, ``OUT/runs/<RUN_DIR's name>-fidelity`` gets copies of its teacher (with the teacher's
held-out family runs) and of its student's VGAE, and runs the student's ``gat`` (distilled
from the teacher, ``--set distill.select=fidelity``), ``fusion`` and ``evaluate`` with the
run's own seed; a rerun resumes.

The judge reads no test split: in each fusion stage the families rule trains a teacher and
a student without each attack family and scores every fusion candidate on it; the judge is
the mean absolute difference between the student's and the teacher's frozen F1 there (over
families and candidates). The rule, fixed before the first run (docs/results.md): adopt
``fidelity`` as the student default if that gap falls by more than 0.005 on the mean over
every run given (give ``--dataset``, ``--cache-dir`` and ``--runs`` once per dataset) and
the student GAT's validation F1 falls by no more than 0.005. ``--judge-only`` reads
finished runs and trains nothing.

Since canids-models 0.26.0 the student deploys its teacher's fusion and runs no families
rule of its own, so this judge reads only baselines made with ``--set
fusion.select=auto`` (0.25.0's student); a baseline without it is refused before anything
is copied or trained. ``dataset_holdout.py --student --student-variants fidelity`` judges
the same choice held out by dataset (docs/results.md, 2026-12-07).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from _bench import command, machine
from detection_ablation import copy_detectors, copy_family_teachers, run_stages

MARGIN = 0.005


def prepare(baseline: Path, target: Path, dataset: str) -> int:
    """Copy the teacher (its detectors, its fusion with the family figures the judge reads,
    its results, which ``results_tables.py`` compares the student with, and its held-out
    family runs) and the student's VGAE of ``baseline`` into ``target`` (kept where
    already there); the baseline student's seed."""
    copy_detectors(baseline, target, dataset, "teacher", keys=("vgae", "gat", "fusion", "results"))
    copy_family_teachers(baseline, target, dataset)
    copy_detectors(baseline, target, dataset, "student", keys=("vgae",))
    gat_config = baseline / dataset / "student" / "gat" / "config.json"
    return int(json.loads(gat_config.read_text())["config"]["train"]["seed"])


def judge(run: Path, dataset: str) -> dict[str, Any]:
    """The family gap to the teacher and the student GAT's validation F1 and kept epoch."""
    folder = run / dataset
    fusion = {
        size: json.loads((folder / size / "fusion" / "metrics.json").read_text())["selection"]
        for size in ("teacher", "student")
    }
    if "families" not in fusion["student"] or "families" not in fusion["teacher"]:
        raise SystemExit(f"{folder}: a fusion stage without the families rule has no judge here")
    st, te = fusion["student"]["families"], fusion["teacher"]["families"]
    gaps = [
        abs(st[f]["frozen_f1"][c] - te[f]["frozen_f1"][c]) for f in st for c in st[f]["frozen_f1"]
    ]
    gat = json.loads((folder / "student" / "gat" / "metrics.json").read_text())
    return {
        "gap": float(np.mean(gaps)),
        "val_f1": float(gat["val"]["f1"]),
        "epoch": int(gat["best_epoch"]),
        "by": gat.get("selected_by", "val_f1"),
    }


def verdict(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    """The rule's lines over every (baseline, fidelity) pair."""
    gap = [np.mean([p[i]["gap"] for p in pairs]) for i in (0, 1)]
    f1 = [np.mean([p[i]["val_f1"] for p in pairs]) for i in (0, 1)]
    adopt = gap[0] - gap[1] > MARGIN and f1[0] - f1[1] <= MARGIN
    return [
        f"mean family gap to the teacher over {len(pairs)} runs: f1 {gap[0]:.4f}, "
        f"fidelity {gap[1]:.4f} (change {gap[1] - gap[0]:+.4f}); student GAT validation F1 "
        f"{f1[0]:.4f} -> {f1[1]:.4f}",
        "rule: "
        + ("adopt fidelity" if adopt else "fidelity stays opt-in")
        + f" (gap must fall by more than {MARGIN}, validation F1 by no more than {MARGIN})",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dataset", action="append", required=True, help="once per --runs group")
    ap.add_argument("--runs", nargs="+", action="append", type=Path, required=True)
    ap.add_argument("--cache-dir", action="append", type=Path, default=[])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--judge-only", action="store_true", help="read finished runs, train nothing")
    a = ap.parse_args()
    if len(a.dataset) != len(a.runs) or (not a.judge_only and len(a.cache_dir) != len(a.runs)):
        raise SystemExit("give one --dataset (and one --cache-dir unless --judge-only) per --runs")
    print(f"# {command()}\n# {machine()}")
    log = a.out / "distill_select.log"
    a.out.mkdir(parents=True, exist_ok=True)
    pairs = []
    for i, (dataset, runs) in enumerate(zip(a.dataset, a.runs, strict=True)):
        for baseline in runs:
            before = judge(baseline, dataset)  # a baseline it cannot judge: refused first
            target = a.out / "runs" / f"{baseline.name}-fidelity"
            if not a.judge_only:
                seed = prepare(baseline, target, dataset)
                sets = [f"train.seed={seed}", "distill.select=fidelity"]
                secs = run_stages(dataset, "student", target, a.cache_dir[i], sets, log)
                print(f"{target.name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in secs.items()))
            pair = (before, judge(target, dataset))
            pairs.append(pair)
            print(
                f"{dataset} {baseline.name}: family gap {pair[0]['gap']:.4f} -> "
                f"{pair[1]['gap']:.4f}; "
                f"student GAT val F1 {pair[0]['val_f1']:.4f} (epoch {pair[0]['epoch']}) -> "
                f"{pair[1]['val_f1']:.4f} (epoch {pair[1]['epoch']}, {pair[1]['by']})"
            )
    for line in verdict(pairs):
        print(line)


if __name__ == "__main__":
    main()
