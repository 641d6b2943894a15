"""Model checkpoints that rebuild their own model: hyper-parameters, input sizes and the
vocabulary digest travel with the weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .artifacts import ArtifactStore
from .config import GATConfig, VGAEConfig
from .errors import ArtifactError
from .nn import VGAE, GATClassifier

__all__ = ["count_parameters", "load_model", "model_record"]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_record(
    kind: str,
    model: nn.Module,
    hparams: GATConfig | VGAEConfig,
    inputs: dict[str, Any],
    vocab_digest: str,
    backend: str,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "hparams": hparams.model_dump(),
        "inputs": dict(inputs),
        "vocab_digest": vocab_digest,
        "backend": backend,
        "parameters": count_parameters(model),
    }


def load_model(
    store: ArtifactStore,
    dataset: str,
    size: str,
    key: str,
    *,
    vocab_digest: str,
    device: torch.device,
    backend: str = "pyg",
) -> nn.Module:
    """The ``gat`` or ``vgae`` artifact as a model in eval mode, built from its own record."""
    if not store.is_done(dataset, size, key):
        raise ArtifactError(
            f"artifact {key} ({size}) of {dataset} is not done ({store.dir(dataset, size, key)}); "
            f"run: canids-train {'gat' if key == 'gat' else key} --dataset {dataset} --size {size}"
        )
    ckpt = store.load(dataset, size, key)
    if ckpt.get("vocab_digest") != vocab_digest:
        raise ArtifactError(
            f"artifact {key} ({size}) of {dataset} was trained on a cache with another CAN-ID "
            f"vocabulary (the cache was rebuilt since); retrain it: canids-train {key} "
            f"--dataset {dataset} --size {size}"
        )
    if key == "gat":
        model: nn.Module = GATClassifier(
            GATConfig(**ckpt["hparams"]), **ckpt["inputs"], backend=backend
        )
    elif key == "vgae":
        model = VGAE(VGAEConfig(**ckpt["hparams"]), **ckpt["inputs"], backend=backend)
    else:
        raise ArtifactError(f"artifact {key} holds no GNN model")
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()
