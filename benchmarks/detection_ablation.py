"""The detection ablation of docs/results.md, end to end: caches, pipelines, tables.

    uv run python benchmarks/detection_ablation.py --data ../shared/data/real \\
        --out benchmarks/out/ablation [--datasets hcrl_sa set_01] [--seeds 0 1 2] [--jobs 1]

For each dataset, each variant (one technique switched off at a time) and each seed, it
builds the variant's cache once, runs the teacher pipeline (vgae, gat_curriculum, fusion,
evaluate) and, for the full system, the distilled student (vgae, gat, fusion, evaluate),
with ``canids-train`` as a user would, then prints one table per dataset: mean ± std over
the seeds of every held-out split × protocol × model, with the flag-everything F1 beside
it. Every fusion candidate (mean, max, logistic, DQN) is evaluated in every run, so the
DQN-versus-default comparison needs no extra run. Finished stages are skipped on a rerun
(their DONE records exist), so an interrupted ablation resumes.

Variants:
  full        invariant features, validation time blocks, CAN-ID embedding off
  v1          the original 23 node features (raw payload bytes, CAN-ID embedding on)
  tail        validation = each capture's time tail (the old rule); where that holds no
              attack the stage must fail, so it runs with eval.one_class_fit=true, and
              with no clean start to choose a calibration rule on, the rule is fixed
              (zscore k=4 on 5 s after a 1 s warm-up)
  ids         invariant features with the CAN-ID embedding on
  validation  the default fusion chosen on validation (canids-models 0.7.0-0.16.0's rule)
              instead of the held-out attack families (0.17.0's default, fusion.select=auto)
  judge       the calibration judged as 0.17.0 did (each period calibrated on whatever it
              held, the earliest exact best rule) instead of on a clean calibration with a
              tie margin (0.18.0's default)

The scripts that reproduce a section made under validation's rule (guard_floor.py,
cut_fusions.py, frozen_warmup.py, family_holdout.py, student_vgae.py) pass
``BY_VALIDATION`` and ``JUDGE_0_17`` to every run, so that they make the runs their sections
describe.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Validation's rule for the default fusion, the default until canids-models 0.17.0.
BY_VALIDATION = "fusion.select=validation"
# The tie order between fusions of every version until 0.18.0 (the simplest first), the
# default until 0.19.0.
SIMPLEST_TIES = "fusion.tie_order=simplest"
# The shared calibration period of validation's own choice, whichever fusion the families
# rule deployed: every version until 0.19.0 (0.20.0 takes the deployed fusion's).
VALIDATION_PERIOD = "fusion.period_of=validation"
# Ties between calibration periods and between rules to the earliest listed: the default of
# every version so far, pinned so that a later default cannot move these runs.
TIES_0_20 = ("calibration.period_ties=first", "calibration.rule_ties=first")
# canids-models 0.19.0's choices: its period and its calibration ties.
CHOICES_0_19 = (VALIDATION_PERIOD, *TIES_0_20)
# canids-models 0.18.0's choices: its fusion tie order, and 0.19.0's others.
CHOICES_0_18 = (SIMPLEST_TIES, *CHOICES_0_19)
# canids-models 0.17.0's calibration judge (each period calibrated on whatever it held, the
# earliest exact best rule), the default until 0.18.0, with its fusion choices.
JUDGE_0_17 = ("calibration.clean_validation=false", "calibration.tie_margin=null", *CHOICES_0_18)
VARIANTS: dict[str, dict[str, Any]] = {
    "full": {"build": [], "set": []},
    "v1": {
        "build": ["--features", "v1"],
        "set": ["gat.id_embedding=true", "vgae.id_embedding=true"],
    },
    "tail": {
        "build": ["--validation", "tail", "--val-start-seconds", "0"],
        # Tail validation holds no clean start to choose a calibration rule on: fixed.
        "set": [
            "eval.one_class_fit=true",
            "calibration.rule=zscore",
            "calibration.param=4",
            "calibration.seconds=5",
            "calibration.warmup=1",
        ],
    },
    "ids": {"build": [], "set": ["gat.id_embedding=true", "vgae.id_embedding=true"]},
    "validation": {"build": [], "set": ["fusion.select=validation"]},
    "judge": {"build": [], "set": list(JUDGE_0_17)},
}
TEACHER = ("vgae", "gat_curriculum", "fusion", "evaluate")
STUDENT = ("vgae", "gat", "fusion", "evaluate")


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    return found


def run(cmd: list[str], log: Path) -> float:
    t0 = time.perf_counter()
    with log.open("a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0:
        raise SystemExit(f"failed ({rc}): {' '.join(cmd)}; see {log}")
    return time.perf_counter() - t0


def pipeline(
    dataset: str, variant: str, seed: int, size: str, out: Path, log: Path
) -> dict[str, Any]:
    sets = [*VARIANTS[variant]["set"], f"train.seed={seed}"]
    run_dir = out / "runs" / f"{variant}-s{seed}"
    seconds = run_stages(dataset, size, run_dir, out / f"cache-{variant}", sets, log)
    return {"seconds": seconds, "metrics": results_metrics(run_dir, dataset, size)}


def results_metrics(run_dir: Path, dataset: str, size: str) -> dict[str, Any]:
    """The evaluate stage's metrics of ``size`` in run folder ``run_dir``."""
    return json.loads((run_dir / dataset / size / "results" / "metrics.json").read_text())


def run_stages(
    dataset: str, size: str, run_dir: Path, cache: Path, sets: list[str], log: Path
) -> dict[str, float]:
    """Run ``size``'s pipeline into ``run_dir`` with ``canids-train``, skipping the stages
    whose DONE record exists (a rerun resumes); the seconds of each stage it ran."""
    seconds = {}
    for stage in TEACHER if size == "teacher" else STUDENT:
        if (run_dir / dataset / size / _artifact(stage) / "DONE.json").is_file():
            continue
        seconds[stage] = run(stage_command(dataset, size, stage, run_dir, cache, sets), log)
    return seconds


def stage_command(
    dataset: str,
    size: str,
    stage: str,
    run_dir: Path,
    cache: Path,
    sets: list[str],
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The ``canids-train`` command of ``size``'s ``stage`` into run folder ``run_dir``
    (a student's detectors distilled from the teacher there, its fusion reading the
    teacher's); ``extra`` options last."""
    cmd = [tool("canids-train"), stage, "--dataset", dataset, "--size", size]
    cmd += ["--run", run_dir.name, "--runs-dir", str(run_dir.parent), "--cache-dir", str(cache)]
    cmd += [a for s in sets for a in ("--set", s)]
    if size == "student" and stage in ("vgae", "gat", "fusion"):  # as canids-submit's
        cmd += ["--distill-from", "teacher"]
    return [*cmd, *extra]


def _artifact(stage: str) -> str:
    return {"gat_curriculum": "gat", "evaluate": "results"}.get(stage, stage)


def summarise(results: list[dict[str, Any]]) -> list[str]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in results:
        for row in r["metrics"]["rows"]:
            if not row["held_out"] or not row["default"]:
                continue
            model = row["model"].split(":")[0]
            key = (r["variant"], r["size"], row["split"], row["protocol"], model)
            groups.setdefault(key, []).append(row)
        for row in r["metrics"]["rows"]:
            if row["held_out"] and row["model"] == "fusion:dqn" and not row["default"]:
                key = (r["variant"], r["size"], row["split"], row["protocol"], "fusion:dqn")
                groups.setdefault(key, []).append(row)
    lines = [
        "| variant | size | split | protocol | model | F1 (mean ± std) | flag-all F1 | "
        "precision | recall | FPR | alarms/h | AUROC | seeds |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in sorted(groups):
        rows = groups[key]
        lines.append(
            "| "
            + " | ".join(
                [
                    *key,
                    mean_std([r["f1"] for r in rows]),
                    mean_std([r["flag_all_f1"] for r in rows]),
                    mean_std([r["precision"] for r in rows]),
                    mean_std([r["recall"] for r in rows]),
                    mean_std([r["fpr"] for r in rows]),
                    mean_std([r["false_alarms_per_hour"] for r in rows], 1),
                    mean_std([r["auroc"] for r in rows]),
                    str(len(rows)),
                ]
            )
            + " |"
        )
    return lines


def build_cache(
    dataset: str, root: Path, out: Path, log: Path, features: str = "invariant"
) -> Path:
    """``out/cache-<dataset>`` (``-<features>`` for a set other than the default) built from
    ``root`` (a no-op where it is current)."""
    cache = out / (f"cache-{dataset}" if features == "invariant" else f"cache-{dataset}-{features}")
    build = [tool("canids-cache"), "build", "--dataset", dataset, "--root", str(root)]
    run([*build, "--cache-dir", str(cache), "--features", features], log)
    return cache


def copy_detectors(
    source: Path, target: Path, dataset: str, size: str, keys: tuple[str, ...] = ("vgae", "gat")
) -> None:
    """``size``'s ``keys`` artifacts (default: both detectors) of run folder ``source`` into
    ``target`` (kept where already there), so that a second run differs only after them."""
    for key in keys:
        dest = target / dataset / size / key
        if not dest.exists():
            shutil.copytree(source / dataset / size / key, dest)


def copy_family_teachers(
    source: Path, target: Path, dataset: str, keys: tuple[str, ...] | None = None
) -> None:
    """The teacher's held-out family runs of run folder ``source`` into ``target`` (kept
    where already there): a student's families fusion distils its family runs from them.
    With ``keys`` (e.g. both detectors), only those artifacts of each family run: a
    teacher variant's families rule then refits each family's fusion under its own
    settings."""
    families = source / dataset / "families"
    if not families.is_dir():
        return
    for family in sorted(families.iterdir()):
        if keys is not None:
            copy_detectors(
                family, target / dataset / "families" / family.name, dataset, "teacher", keys
            )
            continue
        dest = target / dataset / "families" / family.name / dataset / "teacher"
        if not dest.exists():
            shutil.copytree(family / dataset / "teacher", dest)


def paired_runs(
    dataset: str,
    root: Path,
    seed: int,
    size: str,
    out: Path,
    log: Path,
    baseline: list[str],
    name: str,
    common: tuple[str, ...] = (),
) -> tuple[Path, Path]:
    """Two run folders on the same detectors: ``out/runs/<dataset>-s<seed>``, the pipeline
    with the ``baseline`` settings (its finished stages reused; a student's teacher first),
    and ``out/runs/<dataset>-<name>-s<seed>``, which holds copies of its ``vgae`` and
    ``gat`` and runs the later stages under the defaults. ``common`` settings go to both
    (e.g. ``BY_VALIDATION``)."""
    cache = build_cache(dataset, root, out, log)
    seed_set = f"train.seed={seed}"
    baseline = [*common, *baseline]
    base = out / "runs" / f"{dataset}-s{seed}"
    if size == "student":  # its teacher first (a no-op where it is done)
        run_stages(dataset, "teacher", base, cache, [seed_set, *baseline], log)
    run_stages(dataset, size, base, cache, [seed_set, *baseline], log)
    other = out / "runs" / f"{dataset}-{name}-s{seed}"
    copy_detectors(base, other, dataset, size)
    run_stages(dataset, size, other, cache, [seed_set, *common], log)
    return base, other


def run_arguments(doc: str, out: str, seeds: list[int]) -> argparse.ArgumentParser:
    """The arguments of every script that runs pipelines on the real captures: --data,
    --out, --datasets, --seeds (a script adds its own)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder with one folder per dataset")
    ap.add_argument("--out", default=out)
    ap.add_argument("--datasets", nargs="+", default=["set_01", "hcrl_sa"])
    ap.add_argument("--seeds", nargs="+", type=int, default=seeds)
    return ap


def calibration_label(metrics: dict[str, Any], pick: str) -> str:
    """A run's calibration of ``pick`` from its evaluate metrics: rule, parameter, guard
    and period; ``either`` has no fused score and flags where either detector flags
    under its own calibration, so both are named."""
    if pick not in metrics["calibration"]:
        parts = [calibration_label(metrics, m).split(": ", 1)[1] for m in ("vgae", "gat")]
        return f"{pick}: vgae {parts[0]}; gat {parts[1]}"
    rule = metrics["calibration"][pick]
    label = f"{rule['rule']} {rule['param']:g}" + (" guarded" if rule["guard"] else "")
    return f"{pick}: {label}, {rule['seconds']:g} s after {rule['warmup']:g} s"


def mean_std(values: list[float | None], digits: int = 3) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "undefined"
    mean = statistics.fmean(vals)
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with one folder per dataset")
    ap.add_argument("--out", default="benchmarks/out/ablation")
    ap.add_argument("--datasets", nargs="+", default=["hcrl_sa", "set_01"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--no-student", action="store_true")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "ablation.log"
    print(f"command: {' '.join(sys.argv)}\nlog: {log}\nthreads: {os.cpu_count()} CPUs")
    results = []
    for dataset in args.datasets:
        for variant in args.variants:
            build = [tool("canids-cache"), "build", "--dataset", dataset]
            build += ["--root", str(Path(args.data) / dataset)]
            build += ["--cache-dir", str(out / f"cache-{variant}"), *VARIANTS[variant]["build"]]
            run(build, log)
            for seed in args.seeds:
                sizes = ["teacher"] + ([] if args.no_student or variant != "full" else ["student"])
                for size in sizes:
                    t0 = time.perf_counter()
                    r = pipeline(dataset, variant, seed, size, out, log)
                    r.update(dataset=dataset, variant=variant, seed=seed, size=size)
                    results.append(r)
                    print(
                        f"{dataset} {variant} seed {seed} {size}: "
                        f"{time.perf_counter() - t0:.0f} s ({r['seconds']})",
                        flush=True,
                    )
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    for dataset in args.datasets:
        print(f"\n## {dataset}\n")
        print("\n".join(summarise([r for r in results if r["dataset"] == dataset])))


if __name__ == "__main__":
    main()
