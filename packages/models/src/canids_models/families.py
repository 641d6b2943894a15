"""Leave-one-attack-family-out: which fusion holds on an attack its detectors never saw.

Validation holds the attacks the detectors trained on, so every fusion looks alike there
(set_01: frozen val F1 0.99 for each), and validation's choice says nothing about the
unseen attacks of the test splits. ``fusion.select=families`` chooses on what is known
about those instead: for each attack family of the training captures, both detectors are
trained again without its captures (training and validation both lose them), every fusion
is fitted on the rest of validation, and each is scored, with its thresholds frozen, on
the held-out captures' windows. The fusion with the best mean F1 over the families is the
default; means within ``fusion.families_margin`` (0.005) of the best tie, the frozen val
F1 breaks a tie, then the first in ``fusion.tie_order``. Only training captures are read:
no test label. The default ``fusion.select=auto`` takes this rule wherever it can (the method is
not fixed and the training captures hold two families or more) and validation's
otherwise, and says which and why (:func:`choosing_rule`).

A family is the capture name up to its first ``-`` (``train_02_with_attacks__DoS-2``,
hcrl_sa's ``DoS-kia`` and the demo's ``dos-1`` are families ``DoS``, ``DoS`` and ``dos``:
what follows names the drive or the vehicle), among the training captures that hold
attack windows; every capture of a family leaves training together. Frozen figures
choose under both protocols: a held-out training capture need not start clean (set_01's
do not), and a calibration on attack traffic judges the capture, not the fusion
(benchmarks/family_holdout.py measured both).

Each family's run lives in its own artifact store beside the sizes' artifacts
(``<runs>/<run>/<dataset>/families/<family>/``), so that a student's run distils from the
teacher's run of the same family, never from a teacher that saw it. Limits: every family
is one more training of both detectors (the fusion stage's time grows by about that many
pipelines; give it a SLURM walltime to match), except where the family store's detectors
were made from the same captures, cache, detector config and upstream artifacts (a fusion
stage run again with other fusion, calibration or DQN settings:
:mod:`canids_models.detector_reuse`); the held-out captures stay in the cache's
vocabulary and feature scaling, which the training captures set at cache build.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

import numpy as np

from .artifacts import ArtifactStore
from .attack_families import (
    AttackFamily,
    attack_families,
    capture_family,
    choosing_rule,
    require_families,
)
from .config import TIE_MARGIN
from .context import StageContext, seed_everything
from .detector_reuse import reusable
from .errors import ModelsError
from .fusion_methods import TIE_ORDERS, tie_ranked
from .fusion_model import FusionModel
from .scoring import score_split

__all__ = [
    "ALONE",
    "CANDIDATES",
    "AttackFamily",
    "attack_families",
    "capture_family",
    "choose_by_families",
    "family_figures",
    "require_families",
    "choosing_rule",
    "detector_means",
]

# Every candidate, simpler first, a cut fusion (0.16.0) after the older score fusions: the
# order a tie followed until 0.18.0 (fusion.tie_order=simplest).
CANDIDATES = TIE_ORDERS["simplest"]
# The detectors alone, scored on each held-out family beside the candidates, never chosen.
ALONE: tuple[str, ...] = ("gat", "vgae")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _family_store(ctx: StageContext, family: str) -> ArtifactStore:
    runs = ctx.store.runs_dir / ctx.store.run / ctx.dataset / "families"
    return ArtifactStore(runs, _UNSAFE.sub("_", family))


def _held_out_run(ctx: StageContext, family: AttackFamily) -> tuple[StageContext, dict[str, Any]]:
    """Train both detectors (or reuse the family store's, where made from the same inputs:
    :mod:`canids_models.detector_reuse`) and fit every fusion without ``family``; the
    run's context."""
    from .stages.fusion import run_fusion
    from .stages.gat import run_gat
    from .stages.vgae import run_vgae

    train, val = ctx.split("train"), ctx.split("val")
    held_train = np.isin(train.sources(), family.sources)
    held_val = np.isin(val.sources(), family.sources)
    gat_record = ctx.store.done_record(ctx.dataset, ctx.size, "gat")
    distill_from = ctx.store.read_json(ctx.dataset, ctx.size, "gat", "config.json")["distill_from"]
    # The held-out run chooses on validation; the margin is the families rule's own.
    fusion = {"select": "validation", "families_margin": TIE_MARGIN}
    config = ctx.config.model_copy(update={"fusion": ctx.config.fusion.model_copy(update=fusion)})
    store = _family_store(ctx, family.name)
    if distill_from is not None and not store.is_done(ctx.dataset, distill_from, "gat"):
        where = store.dir(ctx.dataset, distill_from, "gat")
        raise ModelsError(
            f"{ctx.dataset}: the {ctx.size} held-out run without {family.name} distils from "
            f"the {distill_from}'s run without it, which is not done ({where}): run the "
            f"{distill_from} pipeline with --set fusion.select=families (or the default, "
            "auto) first"
        )

    def sub(distill: str | None) -> StageContext:
        return StageContext(
            ctx.dataset,
            ctx.size,
            config,
            store,
            cache_dir=ctx.cache_dir,
            distill_from=distill,
            check_sources=ctx.check_sources,
            log=lambda text: ctx.log(
                "\n".join(f"[without {family.name}] {line}" for line in text.splitlines())
            ),
            on_progress=ctx.on_progress,
            _splits={"train": train.subset(~held_train), "val": val.subset(~held_val)},
        )

    gat_stage = gat_record["stage"]
    trainings = (
        ("vgae", "vgae", run_vgae),
        ("gat", gat_stage, lambda c: run_gat(c, curriculum=gat_stage == "gat_curriculum")),
    )
    reused: dict[str, bool] = {}
    for key, stage, train_it in trainings:
        detector = sub(distill_from)
        stamp = reusable(detector, key, stage)
        reused[key] = stamp is not None
        if stamp is None:
            train_it(detector)
        else:
            detector.log(
                f"{key} ({ctx.size}): reusing the one finished {stamp}, made from the same "
                "captures, cache, detector config and upstream artifacts (remove "
                f"{store.dir(ctx.dataset, ctx.size, key)} to train it again)"
            )
    fitted = sub(None)
    run_fusion(fitted)
    kept = {
        "train_windows": int((~held_train).sum()),
        "val_windows": int((~held_val).sum()),
        "held_out_windows": int(held_train.sum() + held_val.sum()),
        "reused": reused,
    }
    return fitted, kept


def _f1(y: np.ndarray, flags: np.ndarray) -> float:
    tp = int((y & flags).sum())
    wrong = int((y ^ flags).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + wrong)


def family_figures(ctx: StageContext, families: list[AttackFamily]) -> dict[str, Any]:
    """Per attack family (of :func:`attack_families`): every candidate's frozen F1 on its
    captures when neither detector nor fusion saw them. Raises where fewer than two
    families can be held out."""
    require_families(families, ctx.dataset)
    out: dict[str, Any] = {}
    for family in families:
        ctx.log(f"fusion: training without {family.name} ({', '.join(family.captures)})")
        fitted, kept = _held_out_run(ctx, family)
        y, flags = _held_out_flags(ctx, fitted, family)
        out[family.name] = {
            "captures": list(family.captures),
            "attack_windows": int(y.sum()),
            **kept,
            "frozen_f1": {m: round(_f1(y, f), 6) for m, f in flags.items() if m not in ALONE},
            # Each detector alone at its own frozen cut: reported beside the candidates
            # (does a fusion beat its better input on an attack nobody trained on?), never
            # one of them.
            "detector_f1": {m: round(_f1(y, flags[m]), 6) for m in ALONE},
        }
    # The held-out runs seeded the generators as they started; the fusion fitted next
    # starts where a run choosing on validation starts.
    seed_everything(ctx.ranks.seed(ctx.config.train.seed), ctx.config.train.deterministic)
    return out


def _held_out_flags(
    ctx: StageContext, fitted: StageContext, family: AttackFamily
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The labels of ``family``'s windows (training and validation parts) and every
    method's frozen flags on them, from the run that never saw them."""
    fusion = FusionModel.from_checkpoint(fitted.store.load(ctx.dataset, ctx.size, "fusion"))
    gat, vgae = fitted.load_model("gat"), fitted.load_model("vgae")
    y: list[np.ndarray] = []
    flags: dict[str, list[np.ndarray]] = {m: [] for m in (*fusion.methods, *ALONE)}
    for split in ("train", "val"):
        view = ctx.split(split)
        held = view.subset(np.isin(view.sources(), family.sources))
        if len(held) == 0:
            continue
        name = f"{split} of {family.name}"
        scores = score_split(held, name, gat, vgae, ctx.config.batching, ctx.device)
        inputs = fusion.frozen_inputs(scores)
        keep = inputs.scored  # past each capture's frozen warm-up, where one is set
        y.append(scores.y[keep].astype(bool))
        for method in flags:
            fused = fusion.fuse(method, inputs)[keep]
            flags[method].append(fusion.thresholds[method].apply(fused))
    return np.concatenate(y), {m: np.concatenate(f) for m, f in flags.items()}


def choose_by_families(
    figures: dict[str, Any],
    val_f1: dict[str, float | None],
    methods: tuple[str, ...],
    margin: float = 0.0,
    order: tuple[str, ...] = CANDIDATES,
) -> tuple[str, dict[str, float]]:
    """The candidate of ``methods`` with the best mean held-out F1, where every mean within
    ``margin`` of the best ties; among the tied, the best frozen val F1 (within the same
    margin), then the first in ``order`` (:data:`~canids_models.fusion_methods.TIE_ORDERS`;
    by default :data:`CANDIDATES`, simpler first). Also every mean. ``margin=0`` ties
    only equal means (the rule of canids-models 0.8.0–0.11.0)."""
    means = {
        m: round(statistics.fmean(f["frozen_f1"].get(m, 0.0) for f in figures.values()), 6)
        for m in methods
    }
    tied = _within(tie_ranked(order, methods), means, margin)
    val = {m: round(val_f1.get(m) or 0.0, 6) for m in tied}
    return _within(tied, val, margin)[0], means


def detector_means(figures: dict[str, Any]) -> dict[str, float]:
    """Each detector's mean frozen F1 alone over the held-out families (figures written
    before canids-models 0.25.0 have none: empty)."""
    if not all("detector_f1" in f for f in figures.values()):
        return {}
    return {
        m: round(statistics.fmean(f["detector_f1"][m] for f in figures.values()), 6) for m in ALONE
    }


def _within(order: list[str], score: dict[str, float], margin: float) -> list[str]:
    # Rounded to 1e-6 like the scores, so that a difference of exactly ``margin`` ties.
    top = max(score[m] for m in order)
    return [m for m in order if round(top - score[m], 6) <= margin]
