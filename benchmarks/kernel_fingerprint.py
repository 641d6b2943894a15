"""Which numerical results a CPU's kernels change: a fingerprint of the ops the detectors
run, to be compared between machines, or between this CPU and an emulated one.

    uv run python benchmarks/kernel_fingerprint.py --label here [--capability avx2] \\
        --json benchmarks/out/fp-here.json
    qemu-x86_64 -cpu Haswell-v4 -0 .venv/bin/python "$(readlink -f .venv/bin/python)" \\
        benchmarks/kernel_fingerprint.py --label haswell --capability avx2 --json fp-hsw.json
    uv run python benchmarks/kernel_fingerprint.py --compare fp-here.json fp-hsw.json

Each op is seeded and run on 2 threads, and its result hashed bit for bit (SHA-256, first 12
hex digits): ``torch.randn`` (initial weights), an MKL GEMM, a matrix-vector product (a
linear layer with one output, where MKL's reproducible branch takes another path),
softmax, ELU, one GATv2 layer of torch_geometric forward and backward (the GAT's
attention and scatter), and 30
Adam steps of a GATv2 classifier (what a training stage amplifies). ``--capability``
sets the variables ``train.cpu_capability`` pins (canids_models.kernel_environment)
before torch loads. ``--compare`` prints one column per fingerprint and marks each op
that differs from the first (the baseline). One machine shows only which settings move
which ops here; two fingerprints (another machine, or qemu-x86_64 emulating another CPU
model) show whether a pin makes them agree. Under qemu, /proc/cpuinfo (the machine line)
is still this machine's, so the refusal of a capability is judged by the host's flags,
while torch and MKL dispatch on what the emulated CPU reports through CPUID (the kernels
torch picked are printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from _bench import command, machine


def _digest(tensor: Any) -> str:
    return hashlib.sha256(tensor.detach().contiguous().numpy().tobytes()).hexdigest()[:12]


def fingerprint() -> dict[str, str]:
    """Op name to the digest of its seeded result (torch is imported here, after the pin)."""
    import torch
    from torch_geometric.nn import GATv2Conv

    torch.set_num_threads(2)
    out: dict[str, str] = {}
    torch.manual_seed(0)
    a = torch.randn(512, 384)
    b = torch.randn(384, 256)
    out["randn"] = _digest(a)
    out["gemm (MKL)"] = _digest(a @ b)
    out["gemv (MKL)"] = _digest(torch.nn.functional.linear(a[:100, :64], b[:64, :1].t()))
    out["softmax"] = _digest(torch.softmax(a, dim=1))
    out["elu"] = _digest(torch.nn.functional.elu(a))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(400, 32, generator=gen)
    edges = torch.randint(0, 400, (2, 3000), generator=gen)
    torch.manual_seed(2)
    conv = GATv2Conv(32, 16, heads=4, edge_dim=None)
    h = conv(x, edges)
    h.square().sum().backward()
    out["gatv2 forward"] = _digest(h)
    out["gatv2 backward"] = _digest(conv.lin_l.weight.grad)
    torch.manual_seed(3)
    first = GATv2Conv(32, 16, heads=4)
    head = torch.nn.Linear(64, 2)
    params = [*first.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    y = (x[:, 0] > 0).long()
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(torch.relu(first(x, edges))), y)
        loss.backward()
        opt.step()
    out["30 Adam steps"] = _digest(torch.cat([p.detach().flatten() for p in params]))
    return out


def record(label: str, capability: str) -> dict[str, Any]:
    if capability:
        from canids_models import ModelsError, kernel_environment

        try:
            os.environ.update(kernel_environment(capability))
        except ModelsError as exc:  # kernels this CPU lacks: say so, no traceback
            raise SystemExit(
                f"kernel_fingerprint.py: {exc} (here: --capability with one it runs)"
            ) from None
    ops = fingerprint()
    import torch

    return {
        "label": label,
        "capability": capability or "own",
        "torch_kernels": torch.backends.cpu.get_cpu_capability(),
        "variables": {
            k: os.environ.get(k, "")
            for k in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")
        },
        "ops": ops,
    }


def compare(paths: list[Path]) -> str:
    runs = [json.loads(p.read_text()) for p in paths]
    head = [f"{r['label']} ({r['capability']}, {r['torch_kernels']})" for r in runs]
    lines = ["| op | " + " | ".join(head) + " |", "|---|" + "---|" * len(runs)]
    for op in runs[0]["ops"]:
        base = runs[0]["ops"][op]
        cells = [
            r["ops"].get(op, "absent") + ("" if r["ops"].get(op) == base else " ≠") for r in runs
        ]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    same = [sum(r["ops"].get(op) == runs[0]["ops"][op] for op in runs[0]["ops"]) for r in runs[1:]]
    lines.append("")
    lines.append(
        "ops equal to the first column's: "
        + ", ".join(
            f"{r['label']} {n} of {len(runs[0]['ops'])}"
            for r, n in zip(runs[1:], same, strict=True)
        )
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", default="here")
    ap.add_argument("--capability", default="", choices=["", "default", "avx2", "avx512"])
    ap.add_argument("--json", type=Path, default=None, help="Write the fingerprint here.")
    ap.add_argument("--compare", type=Path, nargs="+", default=None, metavar="JSON")
    args = ap.parse_args()
    if args.compare:
        print(compare(args.compare))
        return
    if "torch" in sys.modules:
        raise SystemExit("torch was imported before the kernels were pinned")
    print(machine())
    print(f"command: {command()}")
    rec = record(args.label, args.capability)
    rec["machine"] = machine()
    for op, digest in rec["ops"].items():
        print(f"{op:16} {digest}")
    print(f"torch kernels: {rec['torch_kernels']}; variables: {rec['variables']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rec, indent=1) + "\n")


if __name__ == "__main__":
    main()
