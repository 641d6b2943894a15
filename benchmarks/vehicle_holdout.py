"""Leave-one-vehicle-out on hcrl_sa's training captures: calibration and fusion choices
judged on a vehicle the detectors never saw, without a test label.

    uv run python benchmarks/vehicle_holdout.py --data ../shared/data/real \\
        --out benchmarks/out/vehicle_holdout [--seeds 0 1 2] [--floors 0.1 0.3 1]

hcrl_sa's training captures come from two vehicles: kia (attack-free, DoS) and sonata
(attack-free, fuzzing). Two datasets, described in a datasets file written to ``--out``,
each train on one vehicle's training captures and test on the other's:
``test_01_new_vehicle_attack`` (its attack capture: fuzzing-sonata or DoS-kia, clean for
their first 20 and 34 s) and ``test_02_new_vehicle_normal`` (its attack-free capture). No
capture of hcrl_sa's or set_01's test splits is read.

Per dataset and seed the teacher pipeline runs once under canids-models 0.18.0's choices
(scale floor 0.1, period ties to the earliest listed, fusion ties to the simplest, the
shared period of validation's own choice; folder
``runs/<dataset>-s<seed>``). On copies of its detectors the fusion and evaluate stages run
again per variant, each pinned: every other floor (``calibration.scale_floor=F``, folder
``runs/<dataset>-floor<F>-s<seed>``), the longest period on a tie
(``calibration.period_ties=longest``, ``runs/<dataset>-longest-s<seed>``) and the fusions
in which either detector flags alone first on a tie (``fusion.tie_order=alone_first``,
``runs/<dataset>-alone-s<seed>``, 0.19.0's choices, pinned with their calibration
ties), and canids-models 0.21.0's opt-in candidate: the longest period and the most
sensitive rule on a tie (``calibration.period_ties=longest``,
``calibration.rule_ties=sensitive``, ``runs/<dataset>-sensitive-s<seed>``; docs/results.md
says why it is not the default). Each training holds one attack
family, so validation's rule chooses the fusion and ``fusion.period_of`` (0.20.0) moves
nothing here; it is pinned so that the folders keep their configs. The floor bounds each
capture's calibrated scale from below at F times validation's: the detectors' inputs to
the calibrated fusions and the fused score's z-score rule alike. Finished stages are reused.

Printed: per variant, the calibrated F1 on the new vehicle's attack capture and the
calibrated false alarms per hour on its attack-free one, for the default fusion,
``cut_max`` and both detectors, per run and mean ± std over both directions and the seeds;
the frozen protocol beside them; each run's pick, rule and calibration period; every
model's calibrated F1 per variant. The rules, fixed before each variant's runs: the floor
with the best mean calibrated F1 of the default fusion, within 0.005 the smallest; a tie
rule is adopted where it raises that mean by more than 0.005.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import (
    CHOICES_0_18,
    CHOICES_0_19,
    build_cache,
    calibration_label,
    copy_detectors,
    mean_std,
    run_arguments,
    run_stages,
)
from family_select import write_outputs

VEHICLES: dict[str, dict[str, str]] = {
    "kia": {
        "train": (
            "train_01_attack_free__attack-free-kia.parquet",
            "train_02_with_attacks__DoS-kia.parquet",
            "train_02_with_attacks__attack-free-kia.parquet",
        ),
        "attack": "train_02_with_attacks__DoS-kia.parquet",
        "normal": "train_01_attack_free__attack-free-kia.parquet",
    },
    "sonata": {
        "train": (
            "train_01_attack_free__attack-free-sonata.parquet",
            "train_02_with_attacks__fuzzing-sonata.parquet",
            "train_02_with_attacks__attack-free-sonata.parquet",
        ),
        "attack": "train_02_with_attacks__fuzzing-sonata.parquet",
        "normal": "train_01_attack_free__attack-free-sonata.parquet",
    },
}
ATTACK, NORMAL = "test_01_new_vehicle_attack", "test_02_new_vehicle_normal"
DEFAULT_FLOOR = 0.1  # calibration.scale_floor's default
MODELS = ("pick", "cut_max", "gat", "vgae")
TIE = 0.005


def datasets_file(out: Path, root: Path) -> Path:
    """One dataset per vehicle trained on: ``hcrl_sa_<trained>``, the other held out."""
    text = []
    for trained, held in (("kia", "sonata"), ("sonata", "kia")):
        train = ", ".join(f'"{c}"' for c in VEHICLES[trained]["train"])
        text += [
            f"[datasets.hcrl_sa_{trained}]",
            f'root = "{root}"',
            f'description = "hcrl_sa: trained on {trained}, {held} held out as a new vehicle"',
            f"[datasets.hcrl_sa_{trained}.splits]",
            f"train = [{train}]",
            f'{ATTACK} = ["{VEHICLES[held]["attack"]}"]',
            f'{NORMAL} = ["{VEHICLES[held]["normal"]}"]',
            "",
        ]
    path = out / "datasets.toml"
    path.write_text("\n".join(text))
    return path


def variants(floors: list[float]) -> dict[str, tuple[str, ...]]:
    """Each variant's name (its folder's infix; "" for the run that trains the detectors)
    and settings, each pinned against a change of default."""
    out: dict[str, tuple[str, ...]] = {"": CHOICES_0_18}
    for f in floors:
        if f != DEFAULT_FLOOR:
            out[f"floor{f:g}"] = (*CHOICES_0_18, f"calibration.scale_floor={f}")
    out["longest"] = (*CHOICES_0_18, "calibration.period_ties=longest")
    out["alone"] = ("fusion.tie_order=alone_first", *CHOICES_0_19)
    out["sensitive"] = ("calibration.period_ties=longest", "calibration.rule_ties=sensitive")
    return out


def variant_run(
    dataset: str, root: Path, seed: int, name: str, sets: tuple[str, ...], out: Path, log: Path
) -> Path:
    """The teacher run folder of variant ``name``, on the detectors of the first run."""
    cache = build_cache(dataset, root, out, log)
    seed_set = f"train.seed={seed}"
    base = out / "runs" / f"{dataset}-s{seed}"
    run_stages(dataset, "teacher", base, cache, [seed_set, *CHOICES_0_18], log)
    if not name:
        return base
    run_dir = out / "runs" / f"{dataset}-{name}-s{seed}"
    copy_detectors(base, run_dir, dataset, "teacher")
    run_stages(dataset, "teacher", run_dir, cache, [seed_set, *sets], log)
    return run_dir


def figures(run_dir: Path, dataset: str) -> dict[str, Any]:
    """Per model: calibrated and frozen F1 on the attack capture, false alarms per hour on
    the attack-free one; the pick and its calibration."""
    results = run_dir / dataset / "teacher"
    metrics = json.loads((results / "results" / "metrics.json").read_text())
    pick = metrics["fusion_method"]
    rows: dict[str, dict[str, float | None]] = {}
    every: dict[str, float | None] = {}  # every model's calibrated F1 on the attack capture
    for r in metrics["rows"]:
        name = r["model"].removeprefix("fusion:")
        if r["split"] == ATTACK and r["protocol"] == "calibrated":
            every[name] = r["f1"]
        for model in [m for m in MODELS if m == name or (m == "pick" and name == pick)]:
            cell = rows.setdefault(model, {})
            if r["split"] == ATTACK:
                cell[f"{r['protocol']}_f1"] = r["f1"]
            elif r["split"] == NORMAL:
                cell[f"{r['protocol']}_alarms_h"] = r["false_alarms_per_hour"]
    return {
        "pick": pick,
        "rule": calibration_label(metrics, pick),
        "models": rows,
        "every": every,
    }


def choose(means: dict[float, float]) -> float:
    top = max(means.values())
    return min(f for f, m in means.items() if round(top - m, 6) <= TIE)


def label(name: str) -> str:
    return {
        "": "0.18.0: floor 0.1, period ties first, fusion ties simplest",
        "longest": "period ties longest",
        "alone": "fusion ties alone_first",
        "sensitive": "period ties longest, rule ties sensitive",
    }.get(name, f"floor {name.removeprefix('floor')}")


def table(runs: dict[str, dict[str, dict[str, Any]]]) -> tuple[list[str], dict[str, float]]:
    names = list(runs)
    keys = list(runs[names[0]])
    lines = ["\n### The calibrated protocol on the held-out vehicle (teacher)\n"]
    for name in names:
        picks = "; ".join(f"{k}: {runs[name][k]['rule']}" for k in keys)
        lines.append(f"- {label(name)}: {picks}")
    lines.append(
        "\n| variant | model | calibrated F1, attack | frozen F1, attack | "
        "calibrated false alarms/h, normal | frozen false alarms/h, normal |"
    )
    lines.append("|---|---|---|---|---|---|")
    pick_means: dict[str, float] = {}
    for name in names:
        for model in MODELS:
            cells = []
            for field in ("calibrated_f1", "frozen_f1", "calibrated_alarms_h", "frozen_alarms_h"):
                values = [runs[name][k]["models"][model].get(field) for k in keys]
                digits = 1 if "alarms" in field else 3
                shown = " / ".join("-" if v is None else f"{v:.{digits}f}" for v in values)
                cells.append(f"{shown} ({mean_std(values, digits)})")
            lines.append(f"| {label(name)} | {model} | " + " | ".join(cells) + " |")
        vals = [runs[name][k]["models"]["pick"].get("calibrated_f1") or 0.0 for k in keys]
        pick_means[name] = statistics.fmean(vals)
    every = list(runs[names[0]][keys[0]]["every"])
    lines.append("\nEvery model's calibrated F1 on the attack capture, mean ± std over the runs:\n")
    lines.append("| variant | " + " | ".join(every) + " |")
    lines.append("|---|" + "---|" * len(every))
    for name in names:
        cells = [mean_std([runs[name][k]["every"].get(m) for k in keys]) for m in every]
        lines.append(f"| {label(name)} | " + " | ".join(cells) + " |")
    floors = {DEFAULT_FLOOR: pick_means[""]}
    floors |= {float(n.removeprefix("floor")): m for n, m in pick_means.items() if "floor" in n}
    lines.append(
        "\nRuns in each cell: " + ", ".join(keys) + ". Mean calibrated F1 of the default "
        "fusion: "
        + ", ".join(f"{label(n)} {m:.3f}" for n, m in pick_means.items())
        + f". The floor chosen (ties first; the best, within {TIE} the smallest): "
        f"**{choose(floors):g}**"
    )
    return lines, pick_means


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/vehicle_holdout", [0, 1, 2])
    ap.add_argument("--floors", nargs="+", type=float, default=[DEFAULT_FLOOR, 0.3, 1.0])
    args = ap.parse_args()
    out, log = start_out(args.out, "vehicle_holdout")
    root = Path(args.data).resolve() / "hcrl_sa"
    os.environ["CANIDS_DATASETS"] = str(datasets_file(out, root))
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for seed in args.seeds:
        for trained in VEHICLES:
            dataset = f"hcrl_sa_{trained}"
            for name, sets in variants(sorted(set(args.floors))).items():
                run_dir = variant_run(dataset, root, seed, name, sets, out, log)
                runs.setdefault(name, {})[f"{trained}-s{seed}"] = figures(run_dir, dataset)
    lines, means = table(runs)
    write_outputs(out, "vehicle_holdout", {"variants": runs, "pick_means": means}, lines)


if __name__ == "__main__":
    main()
