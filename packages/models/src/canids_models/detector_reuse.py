"""What a detector's weights were made from, and whether a finished one can stand for a
new training: the held-out family runs of ``fusion.select=families`` reuse theirs.

A fusion stage run again with other fusion, calibration or DQN settings (a researcher's
sweep, or a benchmark's variant) used to train every family's VGAE and GAT again,
although no detector reads those sections: on set_01 that was 177 of the stage's 257
seconds, for weights identical to the bit. Each detector's DONE record now carries
:func:`training_record`: the digest of the config without those sections
(``RunConfig.detector_digest``), the cache's identity (:func:`~canids_models.lineage.
cache_identity`: its build config's digest and every array's checksum, so that the same
captures built again, in another folder or on another day, keep it; until canids-models
0.28.1 the manifest's own digest, which names the build, so a rebuild trained every
family's detectors again, to identical weights), which training and validation
captures it saw and how many windows, its stage, canids-models version, backend, device
type and the CPU kernels torch ran (capability, thread count, torch version, the kernel
environment variables), and the finished stamp of every artifact it read (its VGAE for a
curriculum, its teacher's for distillation). A family run reuses a detector only where
that record equals the one a training now would write; anything else, a record written
before the key existed or on a machine with other kernels included, trains again. A
reused VGAE keeps its stamp, so its GAT can be reused too; a retrained one gives the GAT
a new stamp to compare, so it trains again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .context import StageContext
from .cpu_kernels import machine_record
from .lineage import cache_identity, read_stamps

__all__ = ["KERNEL_KEYS", "reusable", "training_record"]

# What of the machine record decides a training's numbers (the CPU's name does not).
KERNEL_KEYS: tuple[str, ...] = ("cpu_capability", "kernel_environment", "threads", "torch")


def _sources(ctx: StageContext, split: str) -> list[int]:
    return [int(s) for s in np.unique(ctx.split(split).sources())]


def _read(ctx: StageContext, artifact: str, stage: str) -> dict[str, str]:
    """The finished stamp of each artifact this training loads."""
    refs = [(ctx.distill_from, artifact)] if ctx.distill_from else []
    refs += [(ctx.size, "vgae")] if stage == "gat_curriculum" else []
    return read_stamps(ctx.store, ctx.dataset, refs)


def training_record(ctx: StageContext, artifact: str, stage: str) -> dict[str, Any]:
    """What ``artifact`` (``vgae`` or ``gat``) trained by ``stage`` in ``ctx`` is made from,
    as JSON values (compared with the DONE record's ``training`` as read back)."""
    from . import __version__

    train = ctx.split("train")
    machine = machine_record()
    return {
        "stage": stage,
        "detector_digest": ctx.config.detector_digest,
        "cache": cache_identity(train.manifest.data),
        "train_sources": _sources(ctx, "train"),
        "val_sources": _sources(ctx, "val"),
        "train_windows": len(train),
        "val_windows": len(ctx.split("val")),
        "canids_models": __version__,
        "backend": ctx.backend,
        "device": ctx.device.type,
        # The kernels decide the last bits of the weights: another machine's detectors are
        # trained again here, so that a reused one is the one a training here would give.
        "kernels": {k: machine[k] for k in KERNEL_KEYS},
        "read": _read(ctx, artifact, stage),
    }


def reusable(ctx: StageContext, artifact: str, stage: str) -> str | None:
    """The finished stamp of ``artifact`` where its DONE record says it was made from what
    a training now would use (:func:`training_record`); None where it must train."""
    if not ctx.store.is_done(ctx.dataset, ctx.size, artifact):
        return None
    record = ctx.store.done_record(ctx.dataset, ctx.size, artifact)
    if record.get("training") != training_record(ctx, artifact, stage):
        return None
    return str(record["finished"])
