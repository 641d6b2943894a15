"""Leave-one-attack-family-out: would a detector chosen on an attack the classifier never
saw carry to the unknown attacks of the test splits better than the one chosen on
validation? A measurement of a selection rule, run before building it into the pipeline.

    uv run python benchmarks/family_holdout.py --data ../shared/data/real \\
        --out benchmarks/out/family_holdout [--datasets set_01 hcrl_sa] [--seeds 0]

For each dataset and each attack family of its training captures (the files
``train_02_with_attacks__<family>-<n>``), a copy of the dataset (symbolic links) moves that
family's training captures to a test split ``test_09_heldout_family`` and the teacher
pipeline (vgae, gat_curriculum, fusion, evaluate) runs on it: neither detector, the fusion
nor the calibration choice sees the family. Every candidate's F1 there, per protocol, is
its score on an attack it never learnt. The rule under test picks, per protocol, the
candidate with the best mean F1 over the held-out families (ties go to validation's
ranking). The full run (every family in training) then gives that candidate's F1 on the
real held-out test splits, beside the fusion validation chose.

Candidates: each detector alone (``vgae``, ``gat``), each fusion (``fusion:mean``, ``max``,
``logistic``, ``dqn``) and ``either`` (a window flagged when either detector flags it, each
at its own threshold of the protocol: benchmarks/decision_or.py). No test label is read to
choose: a held-out family is training data. Captures with no attack family (attack-free
drives) stay in training, except a drive filed under the same capture name as a held-out
one (set_01's ``train_01_attack_free__accessory-1`` holds the messages of
``train_02_with_attacks__accessory-1``): it leaves training with the family.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from _bench import start_out
from decision_or import PROTOCOLS, f1
from detection_ablation import (
    BY_VALIDATION,
    JUDGE_0_17,
    mean_std,
    run,
    run_arguments,
    run_stages,
    tool,
)

HELD_OUT = "test_09_heldout_family"
FAMILY = re.compile(r"^train_\d\d_with_attacks__(?P<family>.+)-[^-]+$")
FREE = "attack-free"  # hcrl_sa names its attack-free drives in train_02 like a family


def families(root: Path) -> dict[str, list[Path]]:
    """The training captures of each attack family, by file name; a family whose captures
    hold no attack label is none (set_01's ``accessory`` drives: 0 attack messages)."""
    out: dict[str, list[Path]] = {}
    for p in sorted(root.glob("train_*__*.parquet")):
        m = FAMILY.match(p.stem)
        if m and m["family"] != FREE:
            out.setdefault(m["family"], []).append(p)
    return {fam: paths for fam, paths in out.items() if sum(map(_attacks, paths)) > 0}


def _attacks(path: Path) -> int:
    labels = pq.read_table(path, columns=["label"]).column("label").to_numpy()
    return int(np.count_nonzero(labels))


def holdout_root(root: Path, held: list[Path], out: Path) -> Path:
    """``out`` holding links to every capture of ``root``, the ``held`` training captures
    (one family's) renamed into the held-out split."""
    out.mkdir(parents=True, exist_ok=True)
    held_names = {p.name for p in held}
    held_captures = {name.split("__", 1)[1] for name in held_names}
    for p in sorted(root.glob("*.parquet")):
        name = p.name
        if name in held_names:
            name = f"{HELD_OUT}__{p.name.split('__', 1)[1]}"
        elif name.split("__", 1)[1] in held_captures:
            # The same drive filed as attack-free too (as set_01's accessory-N is): training
            # on it would be training on the held-out captures (the cache build refuses).
            continue
        link = out / name
        if not link.exists():
            link.symlink_to(p.resolve())
    return out


def teacher(dataset: str, root: Path, tag: str, seed: int, out: Path, log: Path) -> Path:
    """Run (or resume) the teacher pipeline on ``root``; the results folder."""
    cache, run_dir = out / f"cache-{tag}", out / "runs" / f"{tag}-s{seed}"
    build = [tool("canids-cache"), "build", "--dataset", dataset, "--root", str(root)]
    run([*build, "--cache-dir", str(cache)], log)
    run_stages(
        dataset, "teacher", run_dir, cache, [f"train.seed={seed}", BY_VALIDATION, *JUDGE_0_17], log
    )
    return run_dir / dataset / "teacher" / "results"


def candidate_f1(results: Path) -> dict[tuple[str, str], dict[str, float | None]]:
    """(split, protocol) -> {candidate: F1} for every split of one evaluate run."""
    metrics = json.loads((results / "metrics.json").read_text())
    table: dict[tuple[str, str], dict[str, float | None]] = {}
    for row in metrics["rows"]:
        if row["model"] == "fusion:either":  # canids-models >= 0.8.0: `either` below
            continue
        table.setdefault((row["split"], row["protocol"]), {})[row["model"]] = row["f1"]
    with np.load(results / "scores.npz") as z:
        for (split, protocol), cell in table.items():
            scored = z[f"{split}/{protocol}/scored"]
            flags = z[f"{split}/{protocol}/gat/flag"] | z[f"{split}/{protocol}/vgae/flag"]
            cell["either"] = f1(z[f"{split}/y"][scored], flags[scored])
    return table


def choose(held: list[dict[str, float | None]], val: dict[str, float | None]) -> str:
    """The candidate with the best mean F1 over the held-out families (an undefined F1
    counts 0); validation's F1 breaks ties."""

    def key(name: str) -> tuple[float, float]:
        mean = statistics.fmean([h.get(name) or 0.0 for h in held])
        return (round(mean, 6), val.get(name) or 0.0)

    return max(sorted(val), key=key)


RULES = ("validation", "family, per protocol", "family, frozen figures")


def report(
    dataset: str, seed: int, held: dict[str, Path], full: Path
) -> tuple[list[str], list[dict[str, Any]]]:
    """One seed's tables (every candidate: held-out family F1 and test F1, per protocol)
    and, per protocol and rule, the candidate it picks with that candidate's test F1."""
    full_f1 = candidate_f1(full)
    metrics = json.loads((full / "metrics.json").read_text())
    tests = sorted({s for s, _ in full_f1 if s != "val"})
    held_f1 = {fam: candidate_f1(res) for fam, res in held.items()}
    lines = [f"\n### {dataset}, seed {seed}\n"]
    for fam, res in held.items():
        audit = json.loads((res / "metrics.json").read_text())["audit"].get(HELD_OUT, {})
        lines.append(
            f"- held out {fam}: {audit.get('captures_with_attack_in_calibration', '?')} of "
            f"{audit.get('captures', '?')} captures have an attack inside their calibration "
            "windows (their calibrated figures calibrate on attack traffic)"
        )
    lines.append("")
    # Validation is scored under each protocol where it has a clean start; else frozen.
    val = {p: full_f1.get(("val", p), full_f1[("val", "frozen")]) for p in PROTOCOLS}
    frozen_pick = choose([h[(HELD_OUT, "frozen")] for h in held_f1.values()], val["frozen"])
    records = []
    for protocol in PROTOCOLS:
        picks = {
            "validation": f"fusion:{metrics['fusion_method']}",
            "family, per protocol": choose(
                [h[(HELD_OUT, protocol)] for h in held_f1.values()], val[protocol]
            ),
            "family, frozen figures": frozen_pick,
        }
        for rule, pick in picks.items():
            test = {t: full_f1[(t, protocol)].get(pick) for t in tests}
            records.append(
                {"dataset": dataset, "seed": seed, "protocol": protocol, "rule": rule}
                | {"pick": pick, "test": test}
            )
        lines.append(f"{protocol}: held-out family F1 per candidate, and on the test splits")
        head = [f"held out: {f}" for f in held_f1] + tests
        lines.append("| candidate | " + " | ".join(head) + " |")
        lines.append("|---|" + "---:|" * len(head))
        for name in sorted(val[protocol]):
            marks = [rule for rule, pick in picks.items() if pick == name]
            label = name + (f" ({'; '.join(marks)})" if marks else "")
            cells = [_f(h[(HELD_OUT, protocol)].get(name)) for h in held_f1.values()]
            cells += [_f(full_f1[(t, protocol)].get(name)) for t in tests]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines, records


def summary(records: list[dict[str, Any]]) -> list[str]:
    """Per dataset, protocol and rule: the picks by seed and their test F1, mean ± std."""
    lines = ["\n### Summary: test F1 of what each rule picks (mean ± std over the seeds)\n"]
    for dataset in sorted({r["dataset"] for r in records}):
        rows = [r for r in records if r["dataset"] == dataset]
        tests = sorted(rows[0]["test"])
        lines.append(f"{dataset}:\n")
        lines.append("| protocol | rule | picks by seed | " + " | ".join(tests) + " |")
        lines.append("|---|---|---|" + "---:|" * len(tests))
        for protocol in PROTOCOLS:
            for rule in RULES:
                group = [r for r in rows if r["protocol"] == protocol and r["rule"] == rule]
                picks = " / ".join(r["pick"] for r in sorted(group, key=lambda r: r["seed"]))
                cells = [mean_std([r["test"][t] for r in group]) for t in tests]
                lines.append(f"| {protocol} | {rule} | {picks} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _f(x: float | None) -> str:
    return "undefined" if x is None else f"{x:.3f}"


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/family_holdout", [0])
    args = ap.parse_args()
    out, log = start_out(args.out, "family_holdout")
    lines: list[str] = []
    records: list[dict[str, Any]] = []
    for dataset in args.datasets:
        root = Path(args.data).resolve() / dataset
        fams = families(root)
        if len(fams) < 2:
            sys.exit(f"{root}: {len(fams)} attack family in training; the rule needs two")
        named = ", ".join(f"{k} ({len(v)} captures)" for k, v in fams.items())
        print(f"{dataset}: attack families in training: {named}", flush=True)
        for seed in args.seeds:
            held: dict[str, Path] = {}
            for fam in fams:
                t0 = time.perf_counter()
                froot = holdout_root(root, fams[fam], out / "roots" / f"{dataset}-no-{fam}")
                held[fam] = teacher(dataset, froot, f"{dataset}-no-{fam}", seed, out, log)
                print(f"  seed {seed} without {fam}: {time.perf_counter() - t0:.0f} s", flush=True)
            t0 = time.perf_counter()
            full = teacher(dataset, root, f"{dataset}-full", seed, out, log)
            print(f"  seed {seed} full: {time.perf_counter() - t0:.0f} s", flush=True)
            seed_lines, seed_records = report(dataset, seed, held, full)
            lines += seed_lines
            records += seed_records
    lines += summary(records)
    (out / "family_holdout.json").write_text(json.dumps(records, indent=1))
    text = "\n".join(lines)
    (out / "family_holdout.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
