"""What pinning the CPU kernels (``train.cpu_capability``) costs and changes: one stage run
with the CPU's own kernels (the baseline, twice) and once per capability this CPU runs.

    uv run python benchmarks/cpu_kernels.py --out benchmarks/out/cpu_kernels \\
        [--dataset hcrl_sa --data ../shared/data/real | --dataset demo] [--stage vgae] \\
        [--seed 0] [--threads 2]

Printed per setting: the kernels torch reported in the stage's machine record, the best
validation loss to 9 digits, whether the model is bit for bit the baseline's (SHA-256
of the checkpoint's weights), the stage's wall seconds and its ratio to the baseline's first run.
One machine cannot show that two machines agree: it shows which settings give this CPU's
own detectors (on an AMD CPU ``avx2`` does not: MKL's AVX2 reproducible branch is
Intel's, and its AUTO branch takes other paths for some products) and how far another
set of kernels moves them (``default``, ATen's scalar code), at what cost. ``--dataset
demo`` builds the embedded synthetic dataset, as ``make demo`` does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

from _bench import real_root, start_out
from detection_ablation import run, tool


def weights_digest(path: Path) -> str:
    """SHA-256 of the checkpoint's weights (the rest of the file names the config)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def settings() -> list[tuple[str, str]]:
    """(name, capability): the baseline twice, then each capability this CPU runs."""
    from canids_models import CPU_CAPABILITIES, ModelsError, kernel_environment

    chosen = [("own", ""), ("own again", "")]
    for capability in CPU_CAPABILITIES:
        try:
            kernel_environment(capability)
        except ModelsError as exc:
            print(f"skipped {capability}: {exc}")
            continue
        chosen.append((capability, capability))
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--dataset", default="hcrl_sa")
    ap.add_argument("--data", default=None, help="folder with one folder per dataset")
    ap.add_argument("--stage", default="vgae", choices=["vgae", "gat"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args()
    out, log = start_out(args.out, "cpu_kernels")
    cache = out / "cache"
    build = [tool("canids-cache"), "build", "--dataset", args.dataset, "--cache-dir", str(cache)]
    if args.dataset != "demo":  # demo: the embedded synthetic captures, as `make demo` builds
        root = Path(args.data) / args.dataset if args.data else real_root(args.dataset)
        build += ["--root", str(root)]
    run(build, log)

    rows, base = [], None
    for name, capability in settings():
        run_name = name.replace(" ", "-")
        sets = [f"train.seed={args.seed}", f"train.threads={args.threads}"]
        if capability:
            sets.append(f"train.cpu_capability={capability}")
        cmd = [tool("canids-train"), args.stage, "--dataset", args.dataset]
        cmd += ["--size", "teacher", "--cache-dir", str(cache), "--runs-dir", str(out / "runs")]
        cmd += ["--run", run_name, "--no-wandb", "--quiet"]
        cmd += [arg for item in sets for arg in ("--set", item)]
        folder = out / "runs" / run_name / args.dataset / "teacher" / args.stage
        if folder.exists():  # a rerun measures again rather than reusing a DONE record
            shutil.rmtree(folder)
        t0 = time.perf_counter()
        run(cmd, log)
        seconds = time.perf_counter() - t0
        config = json.loads((folder / "config.json").read_text())
        metrics = json.loads((folder / "metrics.json").read_text())
        digest = weights_digest(folder / "checkpoint.pt")
        loss = metrics.get("best_val_loss", metrics.get("best_val_f1"))
        row = {"name": name, "kernels": config["machine"]["cpu_capability"], "loss": loss}
        row.update(seconds=seconds, digest=digest, cpu=config["machine"]["cpu"])
        base = base or row
        rows.append(row)
        print(f"{name}: {row['kernels']}, {loss:.9f}, {seconds:.1f} s", flush=True)

    print(
        f"\n{args.dataset} {args.stage} (teacher, seed {args.seed}, {args.threads} threads) "
        f"on {base['cpu']}; baseline: the CPU's own kernels, first run"
    )
    metric = "best val loss" if args.stage == "vgae" else "best val F1"
    print(f"| setting | torch kernels | {metric} | model = baseline's | s | ratio |")
    print("|---|---|---:|---|---:|---:|")
    for row in rows:
        same = "yes" if row["digest"] == base["digest"] else "no"
        ratio = row["seconds"] / base["seconds"]
        print(
            f"| {row['name']} | {row['kernels']} | {row['loss']:.9f} | {same} | "
            f"{row['seconds']:.1f} | {ratio:.2f} |"
        )

    if args.json:
        Path(args.json).write_text(json.dumps({"dataset": args.dataset, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
