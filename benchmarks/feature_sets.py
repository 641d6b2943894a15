"""Feature sets on the same captures, seeds and pipeline: the default ``invariant`` (the
baseline) against ``invariant_load`` (the same plus the window's bus load against the
capture's start) and ``load_vgae_only`` (that cache, the GAT told to ignore the bus load
with ``gat.ignore_features``, the VGAE of ``invariant_load``) and ``load_vgae_rate``
(those detectors, the VGAE's frozen cut at a false-alarm rate on validation's normal
windows: ``fusion.vgae_false_alarm_rate``), under both fusion rules.

    uv run python benchmarks/feature_sets.py --data ../shared/data/real \\
        --out benchmarks/out/family_select [--datasets hcrl_sa set_01] [--seeds 0 1 2] \\
        [--variants invariant invariant_load load_vgae_only load_vgae_rate]

Per variant, dataset and seed it runs ``family_select.py``'s teacher pipeline: the
cache of that feature set, the pipeline choosing its fusion on validation, and a copy of
its detectors whose fusion stage chooses with ``fusion.select=families``. Runs whose DONE
records exist are reused, so an ``--out`` that ``family_select.py`` filled already holds
the baseline. Printed, per dataset, side by side for the feature sets (mean ± std over the
seeds): each rule's picks and its default fusion's held-out test F1; each candidate's
frozen F1 on each attack family the families rule held out of training (training
captures only: what it chose on); each detector's held-out test F1 and AUROC.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _bench import start_out
from canids_models.families import CANDIDATES  # what fusion.select=families scores
from detection_ablation import mean_std, run_arguments
from family_select import RULES, by_seed_json, pipeline, write_outputs

# Chosen on the training captures only: benchmarks/either_rates.py on load_vgae_only's
# held-out families (docs/results.md), never on a test split.
VGAE_RATE = 0.01


def head(title: str, labels: list[str], columns: list[str] | tuple[str, ...]) -> list[str]:
    """A markdown table's title, header and rule: text columns ``labels``, then ``columns``."""
    return [
        f"\n### {title}\n",
        "| " + " | ".join([*labels, *columns]) + " |",
        "|" + "---|" * len(labels) + "---:|" * len(columns),
    ]


def _any_run(runs: dict[str, dict[int, Any]]) -> dict[str, Any]:
    """One variant's one seed: every run has the same splits, families and detectors."""
    return next(iter(next(iter(runs.values())).values()))


def fusion_rows(dataset: str, runs: dict[str, dict[int, Any]]) -> list[str]:
    sets = list(runs)
    cells = sorted(_any_run(runs)["validation"]["f1"])
    title = f"{dataset}: default fusion, held-out test F1"
    lines = head(title, ["rule", "variant", "picks"], [f"{s} {p}" for s, p in cells])
    for rule in RULES:
        for fs in sets:
            seeds = sorted(runs[fs])
            picks = " / ".join(runs[fs][s][rule]["pick"] for s in seeds)
            vals = [mean_std([runs[fs][s][rule]["f1"].get(c) for s in seeds]) for c in cells]
            lines.append(f"| {rule} | {fs} | {picks} | " + " | ".join(vals) + " |")
    return lines


def family_rows(dataset: str, runs: dict[str, dict[int, Any]]) -> list[str]:
    title = f"{dataset}: frozen F1 on each held-out attack family (training captures)"
    lines = head(title, ["family", "variant"], CANDIDATES)
    families = sorted(_any_run(runs)["families"]["families"])
    for family in families:
        for fs, by_seed in runs.items():
            seeds = sorted(by_seed)
            vals = [
                mean_std([by_seed[s]["families"]["families"][family].get(c) for s in seeds])
                for c in CANDIDATES
            ]
            lines.append(f"| {family} | {fs} | " + " | ".join(vals) + " |")
    return lines


def detector_rows(dataset: str, runs: dict[str, dict[int, Any]]) -> list[str]:
    title = f"{dataset}: each detector on the test splits (F1 / AUROC)"
    lines = head(title, ["detector, split, protocol"], list(runs))
    keys = sorted(_any_run(runs)["validation"]["detectors"])
    for key in keys:
        cells = []
        for by_seed in runs.values():
            seeds = sorted(by_seed)
            rows = [by_seed[s]["validation"]["detectors"].get(key) for s in seeds]
            f1 = mean_std([r["f1"] if r else None for r in rows])
            auroc = mean_std([r["auroc"] if r else None for r in rows])
            cells.append(f"{f1} / {auroc}")
        lines.append(f"| {key.replace('/', ', ')} | " + " | ".join(cells) + " |")
    return lines


IGNORE_LOAD = 'gat.ignore_features=["bus_load"]'
# name: (cache feature set, --set items of every stage, (the variant whose validation run
# it starts from, the artifacts it copies from there) or None)
VARIANTS: dict[str, tuple[str, tuple[str, ...], tuple[str, tuple[str, ...]] | None]] = {
    "invariant": ("invariant", (), None),
    "invariant_load": ("invariant_load", (), None),
    # The VGAE sees the bus load, the GAT does not: the same VGAE as invariant_load's.
    "load_vgae_only": ("invariant_load", (IGNORE_LOAD,), ("invariant_load", ("vgae",))),
    # Its detectors, the VGAE's frozen cut at 1 % of validation's normal windows: only the
    # fusion and evaluate stages (and the families' held-out fits) run again.
    "load_vgae_rate": (
        "invariant_load",
        (IGNORE_LOAD, f"fusion.vgae_false_alarm_rate={VGAE_RATE}"),
        ("load_vgae_only", ("vgae", "gat")),
    ),
}


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/family_select", [0, 1, 2])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args()
    tag = "feature_sets-" + "-".join(args.variants)
    out, log = start_out(args.out, tag)
    lines: list[str] = []
    record: dict[str, Any] = {}
    for dataset in args.datasets:
        root = Path(args.data).resolve() / dataset
        runs: dict[str, dict[int, Any]] = {}
        for fs in args.variants:
            features, extra, reuse = VARIANTS[fs]
            runs[fs] = {}
            for seed in args.seeds:
                t0 = time.perf_counter()
                runs[fs][seed] = pipeline(
                    dataset, root, seed, "teacher", out, log, features, fs, extra, reuse
                )
                print(f"{dataset} {fs} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
        lines += fusion_rows(dataset, runs)
        lines += family_rows(dataset, runs)
        lines += detector_rows(dataset, runs)
        record[dataset] = {fs: by_seed_json(by_seed) for fs, by_seed in runs.items()}
    write_outputs(out, tag, record, lines)


if __name__ == "__main__":
    main()
