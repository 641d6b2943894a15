"""The distilled student's VGAE size: the preset (2 layers x 2 heads x 16, latent 8) against
wider students, chosen on validation only, then measured through fusion and evaluate.

    uv run --no-sync python benchmarks/student_vgae.py --data ../shared/data/real \\
        --out benchmarks/out/student_vgae [--datasets set_01 hcrl_sa] [--seeds 0 1 2] \\
        [--candidates preset h4l16 l3h4l16] [--warmup 0] [--select validation|families]

Per dataset and seed, the baseline run (``{dataset}-{select}-s{seed}``, or
``…-{select}-warm{W}-s{seed}`` with ``--warmup W``: the run folders of
``family_select.py`` and ``frozen_warmup.py``, reused where they are in ``--out``, else
trained here) holds the teacher and the preset student. Each other candidate's run gets
copies of the teacher's detectors and of the student's GAT (distilled from the same
teacher, so it does not depend on the student's VGAE), then trains its own student VGAE
(``--distill-from teacher`` with the candidate's ``--set vgae.…``) and runs the student's
fusion and evaluate stages. With ``--select families`` it also gets copies of the
teacher's held-out family runs, from which its student's family runs (trained inside its
fusion stage) distil. Printed: each candidate's parameters and share of the
teacher's, its VGAE's validation AUROC and F1 against the teacher's (the figures the
choice reads: no test label), then the held-out F1 of the student's default fusion and
VGAE per split and protocol, and in how many (seed, split, protocol) cases the student's
fusion is within 0.03 of the teacher's.

The choice rule, printed with the figures: the smallest candidate whose mean validation
VGAE AUROC is within ``--margin`` (0.01) of the teacher's on every dataset; where none
is, the one with the highest smallest-dataset mean.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import (
    BY_VALIDATION,
    JUDGE_0_17,
    build_cache,
    copy_detectors,
    copy_family_teachers,
    mean_std,
    run_arguments,
    run_stages,
)
from frozen_warmup import figures as held_out

# name -> the student's VGAE overrides (the GAT student stays the preset's 2 x 4 x 16).
CANDIDATES: dict[str, list[str]] = {
    "preset": [],
    "h4l16": ["vgae.heads=4", "vgae.latent=16"],
    "l3h4l16": ["vgae.layers=3", "vgae.heads=4", "vgae.latent=16"],
}


def runs(
    dataset: str, root: Path, seed: int, out: Path, log: Path, args: Any
) -> tuple[Path, dict[str, Path]]:
    """The baseline run and each candidate's run folder for one dataset and seed, trained
    where not done."""
    cache = build_cache(dataset, root, out, log)
    # Explicit even at 0: the package default is 2 s since canids-models 0.13.0.
    warm = [f"eval.frozen_warmup={args.warmup:g}"]
    chosen = ["fusion.select=families"] if args.select == "families" else [BY_VALIDATION]
    sets = [f"train.seed={seed}", *chosen, *warm, *JUDGE_0_17]
    tag = args.select + (f"-warm{args.warmup:g}" if args.warmup else "")
    base = out / "runs" / f"{dataset}-{tag}-s{seed}"
    run_stages(dataset, "teacher", base, cache, sets, log)  # no-ops where done
    run_stages(dataset, "student", base, cache, sets, log)
    dirs = {}
    for name in args.candidates:
        if not CANDIDATES[name]:
            dirs[name] = base
            continue
        run = out / "runs" / f"{dataset}-{tag}-student_{name}-s{seed}"
        copy_detectors(base, run, dataset, "teacher")
        copy_detectors(base, run, dataset, "student", keys=("gat",))
        if args.select == "families":
            # The student's held-out runs distil from the teacher's of the same family.
            copy_family_teachers(base, run, dataset)
        run_stages(dataset, "student", run, cache, [*sets, *CANDIDATES[name]], log)
        dirs[name] = run
    return base, dirs


def figures(run: Path, base: Path, dataset: str) -> dict[str, Any]:
    """The teacher's (from the baseline run ``base``) and the student's VGAE validation
    figures and held-out rows."""
    out: dict[str, Any] = {}
    for size, folder in (("teacher", base), ("student", run)):
        vgae = json.loads((folder / dataset / size / "vgae" / "metrics.json").read_text())
        out[size] = {
            **held_out(folder, dataset, size),  # pick, parameters, held-out rows
            "val_auroc": vgae["val"]["auroc"],
            "val_f1": vgae["val"]["f1"],
            "vgae_parameters": vgae["parameters"],
        }
    return out


def choose(per_dataset: dict[str, dict[str, list[dict[str, Any]]]], margin: float) -> str:
    """The rule of the module's docstring, on validation AUROC only."""
    names = list(next(iter(per_dataset.values())))

    def gap(name: str, dataset: str) -> float:
        seeds = per_dataset[dataset][name]
        teacher = statistics.fmean(s["teacher"]["val_auroc"] for s in seeds)
        return teacher - statistics.fmean(s["student"]["val_auroc"] for s in seeds)

    size = {n: per_dataset[next(iter(per_dataset))][n][0]["student"]["parameters"] for n in names}
    for name in sorted(names, key=size.__getitem__):
        if all(gap(name, d) <= margin for d in per_dataset):
            return name
    return min(names, key=lambda n: max(gap(n, d) for d in per_dataset))


def table(dataset: str, per_name: dict[str, list[dict[str, Any]]]) -> list[str]:
    seeds_of_first = next(iter(per_name.values()))
    first = seeds_of_first[0]
    teacher_params = first["teacher"]["parameters"]
    lines = [
        f"\n### {dataset}: the student's VGAE (mean ± std over {len(seeds_of_first)} seeds)\n",
        "| candidate | student VGAE params | student params (share of teacher) | "
        "val VGAE AUROC student / teacher | val VGAE F1 student / teacher | picks |",
        "|---|---:|---:|---|---|---|",
    ]
    for name, seeds in per_name.items():
        s = seeds[0]["student"]
        lines.append(
            f"| {name} | {s['vgae_parameters']:,} | {s['parameters']:,} "
            f"({s['parameters'] / teacher_params:.1%}) | "
            f"{mean_std([x['student']['val_auroc'] for x in seeds])} / "
            f"{mean_std([x['teacher']['val_auroc'] for x in seeds])} | "
            f"{mean_std([x['student']['val_f1'] for x in seeds])} / "
            f"{mean_std([x['teacher']['val_f1'] for x in seeds])} | "
            + " / ".join(x["student"]["pick"] for x in seeds)
            + " |"
        )
    lines += [
        "\nHeld-out F1 (test splits; nothing above read them): the student's default "
        "fusion, its VGAE, and the teacher's default fusion; within: cases where the "
        "student's fusion is at most 0.03 below the teacher's.\n",
        "| split | protocol | candidate | student fusion | student VGAE | teacher fusion "
        "| within 0.03 |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for key in sorted(first["student"]["rows"]):
        for name, seeds in per_name.items():
            st = [x["student"]["rows"][key] for x in seeds]
            te = [x["teacher"]["rows"][key] for x in seeds]
            within = sum(
                (a["fusion"]["f1"] or 0.0) >= (b["fusion"]["f1"] or 0.0) - 0.03
                for a, b in zip(st, te, strict=True)
            )
            lines.append(
                f"| {key[0]} | {key[1]} | {name} | "
                f"{mean_std([r['fusion']['f1'] for r in st])} | "
                f"{mean_std([r['vgae']['f1'] for r in st])} | "
                f"{mean_std([r['fusion']['f1'] for r in te])} | {within} of {len(st)} |"
            )
    return lines


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/student_vgae", [0, 1, 2])
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--warmup", type=float, default=0.0, help="eval.frozen_warmup of every run")
    ap.add_argument("--margin", type=float, default=0.01)
    ap.add_argument("--select", default="validation", choices=["validation", "families"])
    args = ap.parse_args()
    out, log = start_out(args.out, "student_vgae")
    per_dataset: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for dataset in args.datasets:
        root = Path(args.data).resolve() / dataset
        per_name: dict[str, list[dict[str, Any]]] = {n: [] for n in args.candidates}
        for seed in args.seeds:
            base, dirs = runs(dataset, root, seed, out, log, args)
            for name, run in dirs.items():
                per_name[name].append(figures(run, base, dataset))
            print(f"{dataset} seed {seed} done", flush=True)
        per_dataset[dataset] = per_name
    lines = [line for d, p in per_dataset.items() for line in table(d, p)]
    lines.append(
        f"\nchoice (validation VGAE AUROC within {args.margin} of the teacher's on every "
        f"dataset, smallest first): {choose(per_dataset, args.margin)}"
    )
    text = "\n".join(lines)
    suffix = f"-{args.select}" + (f"-warm{args.warmup:g}" if args.warmup else "")
    (out / f"student_vgae{suffix}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
