"""Held out by dataset: trained on one dataset's vehicle, judged on another dataset's
vehicles, without a test label.

    uv run python benchmarks/dataset_holdout.py --data ../shared/data/real \\
        --out benchmarks/out/dataset_holdout [--seeds 0 1 2] [--variants sensitive]

The second held-out direction that docs/results.md asks for before a calibration rule is
judged again: leave-one-vehicle-out on hcrl_sa (``benchmarks/vehicle_holdout.py``) has
two directions, and its captures had been looked at when the candidates were shaped.
Here, two datasets described in a datasets file written to ``--out`` train on one
dataset's training captures and test on the other's **training** captures (no capture of
either dataset's test splits is read):

- ``set_01_to_hcrl_sa``: trained on set_01's training captures (one vehicle; DoS,
  targeted payload fuzzing); tested on hcrl_sa's kia DoS (clean for its first 34 s),
  sonata fuzzing (20 s) and both attack-free captures: two vehicles it never saw;
- ``hcrl_sa_to_set_01``: trained on hcrl_sa's training captures (kia and sonata); tested
  on set_01's DoS-2 (clean for 17 s), targeted payload fuzzing-2 (6.8 s: a calibration
  period longer than that holds attack windows, which the run's audit line counts) and
  its attack-free accessory-1.

``--directions-file FILE`` replaces both with directions of a user's own captures
(``holdout_directions.py``), on which every variant and student variant is judged, by the
same rules: captures nobody here read while shaping a candidate, which these two
directions can no longer be (docs/results.md).

Per direction and seed the teacher pipeline runs once under canids-models 0.22.0's
default (pinned, so that a later default cannot move the folders:
``runs/<dataset>-s<seed>``); per candidate variant, the fusion and evaluate stages run
again on copies of its detectors and of the detectors of its held-out family runs (the
families rule refits its family fusions under the variant's settings;
``runs/<dataset>-<variant>-s<seed>``). Finished stages are reused.

Printed: per variant, the calibrated and frozen F1 of the default fusion, ``cut_max`` and
both detectors on every attack capture, and false alarms per hour on the attack-free
ones, per run and mean ± std; every model's calibrated F1; each run's pick and
calibration; the verdict of the rule fixed before the runs (:func:`verdict`): a variant
is adopted where the default fusion's mean calibrated F1 over every attack capture of
the directions it is judged on (:data:`JUDGED_ON`: those whose captures it was not
shaped on) and the seeds rises by more than 0.005 and its mean calibrated false alarms
per hour on their attack-free captures rise by no more than half, against its baseline
(:data:`BASELINES`: 0.22.0's pinned default, or for ``capture_units``, ``capture_scale``
and ``guard_each``, canids-models 0.24.0's, 0.29.0's and 0.30.0's opt-ins, 0.23.0's
default ``sensitive``, which must then run beside it). ``guard_each`` moves the student's
default as much as the teacher's, so its verdict is read on both sizes together
(``holdout_both.py``), its students on copies of the ``sensitive`` students' detectors
(:data:`STUDENT_FROM`).

With ``--student``, the distilled student's pipeline also runs in each variant's folder
(distilled from that folder's teacher, under the same settings), and its default fusion
is reported against the teacher's (``holdout_student.py``: the gap per attack capture and
protocol, the cells within 0.03, the share of parameters); the default student judges
nothing. ``--student-variants`` adds students beside it (:data:`STUDENT_VARIANTS`), each in
a folder of its own that copies the teacher and the default student's detectors it keeps
(``holdout_student.distil``): ``fidelity`` (a GAT kept by fidelity to its teacher) and
``teacher_pick`` (``fusion.select=teacher``: the student deploys its teacher's fusion),
each of which gets a verdict against the default student by the rule written before its
runs (``holdout_student.student_verdict``, on the directions ``holdout_student.JUDGED``
names).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import (
    build_cache,
    calibration_label,
    copy_detectors,
    copy_family_teachers,
    mean_std,
    results_metrics,
    run_arguments,
    run_stages,
)
from family_select import write_outputs
from holdout_both import BOTH_JUDGED, alarm_limit, both_lines, pick_cells
from holdout_directions import judged_everywhere, read_directions
from holdout_student import JUDGED, STUDENT_VARIANTS, distil, student_lines, verdict_lines
from holdout_variants import (
    BASELINES,
    DIRECTIONS,
    JUDGED_ON,
    NORMAL,
    STUDENT_FROM,
    VARIANTS,
)

MODELS = ("pick", "cut_max", "gat", "vgae")
BASELINE = "0.22.0's default"  # the name of variant "" in the printed tables
RISE = 0.005  # the smallest rise of mean calibrated F1 that adopts a variant
ALARM_GROWTH = 1.5  # the most a variant may multiply the mean false alarms per hour


def datasets_file(
    out: Path, root: Path, directions: dict[str, dict[str, Any]] = DIRECTIONS
) -> Path:
    """One dataset per direction (:data:`DIRECTIONS`, or a directions file's), all read
    from ``root``; refuses a root without the captures named (a directions file's were
    checked as it was read, against the same root)."""
    text = []
    for name, d in directions.items():
        missing = [p for p in (*d["attacks"].values(), *d["normal"]) if not (root / p).is_file()]
        missing += [g for g in d["train"] if not any(root.glob(g))]
        if missing:
            raise SystemExit(
                f"{root}: {name} needs {missing}: pass --data with the folder that holds "
                "them (the built-in directions': hcrl_sa/ and set_01/, ../shared/data/real)"
            )
        text += [
            f"[datasets.{name}]",
            f'root = "{root}"',
            *([f'format = "{d["format"]}"'] if "format" in d else []),
            f'description = "{name}: training captures of one dataset, another\'s held out"',
            f"[datasets.{name}.splits]",
            "train = [" + ", ".join(f'"{g}"' for g in d["train"]) + "]",
            *(f'{split} = ["{path}"]' for split, path in d["attacks"].items()),
            f"{NORMAL} = [" + ", ".join(f'"{p}"' for p in d["normal"]) + "]",
            "",
        ]
    path = out / "datasets.toml"
    path.write_text("\n".join(text))
    return path


def variant_run(dataset: str, cache: Path, seed: int, name: str, out: Path, log: Path) -> Path:
    """The teacher run folder of variant ``name`` (``""``: the pinned baseline)."""
    seed_set = f"train.seed={seed}"
    base = out / "runs" / f"{dataset}-s{seed}"
    run_stages(dataset, "teacher", base, cache, [seed_set, *VARIANTS[""]], log)
    if not name:
        return base
    run_dir = out / "runs" / f"{dataset}-{name}-s{seed}"
    copy_detectors(base, run_dir, dataset, "teacher")
    copy_family_teachers(base, run_dir, dataset, keys=("vgae", "gat"))
    run_stages(dataset, "teacher", run_dir, cache, [seed_set, *VARIANTS[name]], log)
    return run_dir


def figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """From a run's evaluate metrics: per model (the pick as ``pick``) and attack split,
    calibrated and frozen F1; false alarms per hour on the attack-free split; every
    model's calibrated F1 per attack split; the pick's calibration."""
    pick = metrics["fusion_method"]
    models: dict[str, dict[str, float | None]] = {}
    every: dict[str, dict[str, float | None]] = {}
    val_f1 = None
    for r in metrics["rows"]:
        name = r["model"].removeprefix("fusion:")
        if r["split"] == "val" and r["protocol"] == "calibrated" and name == pick:
            val_f1 = r["f1"]  # the training vehicles: holdout_both.py's rule (d)
        if not r["split"].startswith("test_"):
            continue  # validation rows
        key = "alarms_h" if r["split"] == NORMAL else "f1"
        value = r["false_alarms_per_hour"] if key == "alarms_h" else r["f1"]
        if key == "f1" and r["protocol"] == "calibrated":
            every.setdefault(name, {})[r["split"]] = value
        for model in [m for m in MODELS if m == name or (m == "pick" and name == pick)]:
            models.setdefault(model, {})[f"{r['protocol']} {key} {r['split']}"] = value
    rule = calibration_label(metrics, pick)
    return {"pick": pick, "rule": rule, "models": models, "every": every, "val_f1": val_f1}


def pick_summary(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The default fusion's mean calibrated F1 over every attack split of every run, and
    its mean calibrated false alarms per hour on the attack-free split."""
    f1s, alarms = pick_cells(runs)
    return {
        "f1": statistics.fmean(f1s) if f1s else 0.0,
        "alarms_h": statistics.fmean(alarms) if alarms else 0.0,
    }


def verdict(default: dict[str, float], candidate: dict[str, float]) -> tuple[bool, str]:
    """The rule fixed before the runs: adopt where the mean calibrated F1 rises by more
    than :data:`RISE` and the mean false alarms per hour grow by at most
    :data:`ALARM_GROWTH` times (from a quiet default, by at most 1 per hour)."""
    rise = round(candidate["f1"] - default["f1"], 6)  # 0.505 - 0.5 is not above 0.005
    limit = alarm_limit(default["alarms_h"], ALARM_GROWTH)
    f1_ok, alarms_ok = rise > RISE, candidate["alarms_h"] <= limit
    why = (
        f"mean calibrated F1 {default['f1']:.3f} -> {candidate['f1']:.3f} ({rise:+.3f}; "
        f"adopting needs more than +{RISE}), false alarms per hour {default['alarms_h']:.1f} "
        f"-> {candidate['alarms_h']:.1f} (at most {limit:.1f})"
    )
    return f1_ok and alarms_ok, why


def table(
    variants: dict[str, dict[str, dict[str, Any]]],
    judged_on: dict[str, tuple[str, ...]] = JUDGED_ON,
) -> list[str]:
    lines = ["\n### Held out by dataset: the teacher on another dataset's vehicles\n"]
    lines += figure_tables(variants)
    for name, runs in variants.items():
        if not name:
            continue
        if name in BOTH_JUDGED:
            lines.append(f"\n{name}: judged on the teacher and the student together, below")
            continue
        on = judged_on[name]
        judged = [k for k in runs if k.rsplit("-s", 1)[0] in on]
        if not judged:
            lines.append(f"\n{name}: no run of {', '.join(on)}: no verdict")
            continue
        baseline = BASELINES.get(name, "")
        if baseline not in variants:
            lines.append(f"\n{name}: its baseline {baseline} did not run: no verdict")
            continue
        default = pick_summary({k: variants[baseline][k] for k in judged})
        adopted, why = verdict(default, pick_summary({k: runs[k] for k in judged}))
        lines.append(
            f"\n{name}, judged on {', '.join(judged)} against {baseline or BASELINE}: {why}: "
            f"**{'adopt' if adopted else 'not adopted'}**"
        )
    return lines


def figure_tables(variants: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Each variant's picks, then its table of :data:`MODELS` × figure (per run, mean ±
    std) and every model's calibrated F1 over the attack captures."""
    lines = []
    for name, runs in variants.items():
        # By direction, then seed: the runs come in seed by seed.
        picks = "; ".join(f"{k}: {runs[k]['rule']}" for k in sorted(runs))
        lines.append(f"- {name or BASELINE}: {picks}")
    for name, runs in variants.items():
        keys = sorted(runs)
        fields = sorted({f for fig in runs.values() for m in fig["models"].values() for f in m})
        lines += [f"\n**{name or BASELINE}** (runs: {', '.join(keys)})\n"]
        lines += ["| model | " + " | ".join(fields) + " |", "|---|" + "---|" * len(fields)]
        for model in MODELS:
            cells = []
            for field in fields:
                values = [runs[k]["models"].get(model, {}).get(field) for k in keys]
                digits = 1 if "alarms" in field else 3
                shown = " / ".join("-" if v is None else f"{v:.{digits}f}" for v in values)
                cells.append(f"{shown} ({mean_std(values, digits)})")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        every = sorted({m for fig in runs.values() for m in fig["every"]})
        cells = [
            mean_std([v for fig in runs.values() for v in fig["every"].get(m, {}).values()])
            for m in every
        ]
        lines.append(
            "\nEvery model's calibrated F1 over the attack captures: "
            + ", ".join(f"{m} {c}" for m, c in zip(every, cells, strict=True))
        )
    return lines


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/dataset_holdout", [0, 1, 2])
    ap.add_argument("--variants", nargs="*", default=["sensitive"], choices=list(VARIANTS)[1:])
    ap.add_argument(
        "--directions",
        nargs="+",
        help=f"the directions to run (default: all; built in: {', '.join(DIRECTIONS)})",
    )
    ap.add_argument(
        "--directions-file",
        type=Path,
        help="directions of your own (benchmarks/holdout_directions.py), each judged for "
        "every variant, in place of the built-in ones",
    )
    ap.add_argument(
        "--student",
        action="store_true",
        help="also distil the student in each variant's folder (the baseline's when no "
        "variant is given) and report it against its teacher; it judges nothing",
    )
    ap.add_argument(
        "--student-variants",
        nargs="*",
        default=[],
        choices=list(STUDENT_VARIANTS),
        help="with --student: also these student settings, each in a folder of its own "
        "(<direction>-<variant>-<student variant>-s<seed>), reported beside the default",
    )
    args = ap.parse_args()
    if args.student_variants and not args.student:
        ap.error("--student-variants needs --student")
    for name, source in STUDENT_FROM.items():
        if args.student and name in args.variants and source not in args.variants:
            ap.error(f"--student with variant {name} needs variant {source}: its students")
    names = ["", *sorted(set(args.variants), key=list(VARIANTS).index)]  # sources first
    root = Path(args.data).resolve()
    directions, judged_on, judged = DIRECTIONS, JUDGED_ON, JUDGED
    if args.directions_file:  # checked whole before anything is written
        directions = read_directions(args.directions_file.resolve(), root)
        judged_on, judged = judged_everywhere(
            list(directions), list(VARIANTS)[1:], list(STUDENT_VARIANTS)
        )
    args.directions = args.directions or list(directions)
    if unknown := [d for d in args.directions if d not in directions]:
        ap.error(f"--directions {unknown}: not among {', '.join(directions)}")
    out, log = start_out(args.out, "dataset_holdout")
    os.environ["CANIDS_DATASETS"] = str(datasets_file(out, root, directions))
    # Each direction's cache once (a current cache is a no-op, but not a free one).
    caches = {dataset: build_cache(dataset, root, out, log) for dataset in args.directions}
    variants: dict[str, dict[str, dict[str, Any]]] = {}
    students: dict[str, dict[str, dict[str, Any]]] = {}
    parameters: dict[str, dict[str, tuple[int, int]]] = {}
    with_student = args.variants or [""]
    for seed in args.seeds:
        for dataset in args.directions:
            for name in names:
                run_dir = variant_run(dataset, caches[dataset], seed, name, out, log)
                key = f"{dataset}-s{seed}"
                teacher = results_metrics(run_dir, dataset, "teacher")
                variants.setdefault(name, {})[key] = figures(teacher)
                if not args.student or name not in with_student:
                    continue
                sets = [f"train.seed={seed}", *VARIANTS[name]]
                if name in STUDENT_FROM:
                    source = out / "runs" / f"{dataset}-{STUDENT_FROM[name]}-s{seed}"
                    copy_detectors(source, run_dir, dataset, "student")
                for other, student in distil(
                    run_dir, dataset, caches[dataset], sets, args.student_variants, log
                ).items():
                    label = f"{name}+{other}" if other else name
                    students.setdefault(label, {})[key] = figures(student)
                    parameters.setdefault(label, {})[key] = (
                        teacher["parameters"]["fusion"],
                        student["parameters"]["fusion"],
                    )
    lines = table(variants, judged_on)
    for label, runs in students.items():
        name = label.split("+", 1)[0]
        lines += [f"\n### Held out by dataset: the distilled student ({label or BASELINE})\n"]
        lines += figure_tables({label: runs})
        lines += ["", *student_lines(variants[name], runs, parameters[label])]
    lines += verdict_lines(variants, students, pick_summary, judged)
    lines += both_lines(variants, students, judged_on, BASELINES)
    write_outputs(out, "dataset_holdout", {"variants": variants, "students": students}, lines)


if __name__ == "__main__":
    main()
