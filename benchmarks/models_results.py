"""Held-out results tables for docs/results.md, from the artifacts of finished pipelines.

    uv run python benchmarks/models_results.py --runs-dir runs --run default --dataset hcrl_sa

Reads ``results/metrics.json`` of the teacher and the student (whichever are DONE) and
prints one markdown table per dataset: test split x model x size, with parameter
counts and the student/teacher parameter ratio. Validation rows are left out: they are
not results.
"""

from __future__ import annotations

import argparse
import sys

from canids_models import ArtifactStore

COLUMNS = ("f1", "precision", "recall", "auroc", "mcc", "fpr")


def cell(v: object) -> str:
    return "undefined" if v is None else f"{v:.3f}"  # type: ignore[str-format]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--run", default="default")
    ap.add_argument("--dataset", required=True)
    args = ap.parse_args()
    store = ArtifactStore(args.runs_dir, args.run)
    rows, params = [], {}
    for size in ("teacher", "student"):
        if not store.is_done(args.dataset, size, "results"):
            where = store.dir(args.dataset, size, "results")
            print(f"({size}: no finished evaluate stage in {where})")
            continue
        metrics = store.read_json(args.dataset, size, "results", "metrics.json")
        params[size] = metrics["parameters"]
        rows += [r for r in metrics["rows"] if r["held_out"]]
    print(f"command: {' '.join(sys.argv)}\n")
    print("| test split | model | size | params | graphs | attacks | " + " | ".join(COLUMNS) + " |")
    print("|---|---|---|---:|---:|---:|" + "---:|" * len(COLUMNS))
    for r in sorted(
        rows,
        key=lambda r: (
            r["split"],
            ["vgae", "gat", "fusion"].index(r["model"]),
            r["size"] != "teacher",
        ),
    ):
        print(
            f"| {r['split']} | {r['model']} | {r['size']} | {r['parameters']:,} | {r['n']} | "
            f"{r['positives']} | " + " | ".join(cell(r[c]) for c in COLUMNS) + " |"
        )
    if len(params) == 2:
        print()
        for model in ("gat", "vgae", "fusion"):
            ratio = params["student"][model] / params["teacher"][model]
            print(
                f"- {model}: student {params['student'][model]:,} vs teacher "
                f"{params['teacher'][model]:,} parameters ({100 * ratio:.1f} %)"
            )


if __name__ == "__main__":
    main()
