"""``fusion.select=families`` against ``fusion.select=validation``: the same detectors, the
fusion chosen by the two rules, the held-out test F1 of each choice under both protocols.

    uv run python benchmarks/family_select.py --data ../shared/data/real \\
        --out benchmarks/out/family_select [--datasets set_01 hcrl_sa] [--seeds 0 1 2] \\
        [--sizes teacher student] [--variant NAME --set KEY=VALUE ...]

Per dataset and seed, the teacher pipeline runs once choosing on validation (the
baseline), then its ``vgae`` and ``gat`` artifacts are copied to a second run whose fusion
stage chooses with ``--set fusion.select=families`` (it trains both detectors once more per
attack family of the training captures) and whose evaluate stage scores the test splits.
Both runs' detectors are the same files, so the two rules differ only in the fusion they
pick. A student (``--sizes student``) runs the same way after its teacher, its family runs
distilling from the teacher's. A run whose DONE records exist is reused (the script
resumes). With ``--variant NAME --set KEY=VALUE …`` both rules' runs take those settings
too (folders ``<dataset>-NAME-validation-s<seed>`` and ``…-families-…``), e.g. ``--variant
warm2 --set eval.frozen_warmup=2``. Printed: the picks,
each default fusion's test F1 per split and protocol, mean ± std over the seeds, and the
fusion stage's seconds under each rule (the ratio is the cost of the rule).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import (
    BY_VALIDATION,
    build_cache,
    copy_detectors,
    mean_std,
    run_arguments,
    run_stages,
)

RULES = ("validation", "families")


def pipeline(
    dataset: str,
    root: Path,
    seed: int,
    size: str,
    out: Path,
    log: Path,
    features: str = "invariant",
    variant: str | None = None,
    extra: tuple[str, ...] = (),
    reuse: tuple[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Both rules' runs of ``size`` for one seed; per rule the pick, its held-out F1, the
    fusion stage's seconds and the family means. The student's runs distil from the
    teacher of the same run folder (its family runs from the teacher's family runs).
    A feature set other than the default has its own cache and run folders; a ``variant``
    (default: the feature set's name) adds the ``--set`` items ``extra`` to every stage
    and may start from artifacts of another variant's validation run (``reuse``: its
    name and the keys copied, same cache and seed), where ``extra`` does not change
    them."""
    cache = build_cache(dataset, root, out, log, features)
    variant = variant or features
    name = dataset if variant == "invariant" else f"{dataset}-{variant}"
    base = out / "runs" / f"{name}-validation-s{seed}"
    if reuse is not None:
        source = out / "runs" / f"{dataset}-{reuse[0]}-validation-s{seed}"
        copy_detectors(source, base, dataset, size, keys=reuse[1])
    sets = [f"train.seed={seed}", *extra]
    seconds = {"validation": run_stages(dataset, size, base, cache, [*sets, BY_VALIDATION], log)}
    fam = out / "runs" / f"{name}-families-s{seed}"
    copy_detectors(base, fam, dataset, size)
    sets = [*sets, "fusion.select=families"]
    seconds["families"] = run_stages(dataset, size, fam, cache, sets, log)
    out_rows: dict[str, Any] = {}
    for rule, run_dir in zip(RULES, (base, fam), strict=True):
        results = run_dir / dataset / size
        metrics = json.loads((results / "results" / "metrics.json").read_text())
        fusion = json.loads((results / "fusion" / "metrics.json").read_text())
        out_rows[rule] = {
            "pick": metrics["fusion_method"],
            "f1": {
                (r["split"], r["protocol"]): r["f1"]
                for r in metrics["rows"]
                if r["held_out"] and r["model"] == f"fusion:{metrics['fusion_method']}"
            },
            "fusion_seconds": seconds[rule].get("fusion"),
            "family_mean_f1": fusion["selection"].get("family_mean_f1"),
            "families": {
                family: held["frozen_f1"]
                for family, held in (fusion["selection"].get("families") or {}).items()
            },
            "detectors": {
                f"{r['model']}/{r['split']}/{r['protocol']}": {"f1": r["f1"], "auroc": r["auroc"]}
                for r in metrics["rows"]
                if r["held_out"] and r["model"] in ("vgae", "gat")
            },
        }
    return out_rows


def table(dataset: str, size: str, runs: dict[int, dict[str, Any]]) -> list[str]:
    first = next(iter(runs.values()))["validation"]["f1"]
    cells = sorted(first)
    lines = [f"\n### {dataset}, {size}: default fusion, held-out F1 (mean ± std over seeds)\n"]
    lines.append("| rule | picks by seed | " + " | ".join(f"{s} {p}" for s, p in cells) + " |")
    lines.append("|---|---|" + "---:|" * len(cells))
    for rule in RULES:
        picks = " / ".join(runs[seed][rule]["pick"] for seed in sorted(runs))
        values = [mean_std([runs[seed][rule]["f1"][c] for seed in sorted(runs)]) for c in cells]
        lines.append(f"| {rule} | {picks} | " + " | ".join(values) + " |")
    timed = [s for s in runs.values() if s["families"]["fusion_seconds"] is not None]
    timed = [s for s in timed if s["validation"]["fusion_seconds"] is not None]
    if timed:
        fam = sum(s["families"]["fusion_seconds"] for s in timed)
        val = sum(s["validation"]["fusion_seconds"] for s in timed)
        lines.append(
            f"\nfusion stage: families {fam / len(timed):.0f} s, validation "
            f"{val / len(timed):.0f} s per seed (ratio {fam / val:.1f}x, {len(timed)} seeds "
            "timed in this run)"
        )
    return lines


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/family_select", [0])
    ap.add_argument("--sizes", nargs="+", default=["teacher"], choices=["teacher", "student"])
    ap.add_argument("--variant", help="names the run folders of the --set settings")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a canids-train --set item for every stage of both rules' runs (needs --variant)",
    )
    args = ap.parse_args()
    if bool(args.sets) != bool(args.variant):
        ap.error("--set and --variant go together: the variant names the runs the settings make")
    extra = tuple(args.sets)
    tag = "-".join([*args.sizes, *([args.variant] if args.variant else [])])
    out, log = start_out(args.out, f"family_select-{tag}")
    lines: list[str] = []
    record: dict[str, Any] = {}
    for dataset in args.datasets:
        for size in args.sizes:
            runs = {}
            for seed in args.seeds:
                t0 = time.perf_counter()
                root = Path(args.data).resolve() / dataset
                kw: dict[str, Any] = {"variant": args.variant, "extra": extra}
                if size == "student":  # its teachers first (a no-op where they are done)
                    pipeline(dataset, root, seed, "teacher", out, log, **kw)
                runs[seed] = pipeline(dataset, root, seed, size, out, log, **kw)
                print(f"{dataset} {size} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
            lines += table(dataset, size, runs)
            record[f"{dataset}/{size}"] = by_seed_json(runs)
    write_outputs(out, f"family_select-{tag}", record, lines)


def by_seed_json(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """``pipeline``'s rows per seed as JSON (the (split, protocol) keys as "split/protocol")."""
    return {
        str(seed): {
            rule: r[rule] | {"f1": {f"{s}/{p}": v for (s, p), v in r[rule]["f1"].items()}}
            for rule in RULES
        }
        for seed, r in runs.items()
    }


def write_outputs(out: Path, name: str, record: dict[str, Any], lines: list[str]) -> None:
    """``out/<name>.json`` and ``out/<name>.md``; the tables are printed too."""
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    text = "\n".join(lines)
    (out / f"{name}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
