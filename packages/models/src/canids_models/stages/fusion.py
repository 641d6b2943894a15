"""Stage ``fusion``: fit every fusion on validation, choose the calibration rules, and pick
the default fusion, never on a test split.

The DQN (the seeds' method) is compared with the simple fusions of normalised scores
(mean, max, logistic stacking, and since canids-models 0.16.0 the mean and max in units of
each detector's own cut). ``either`` (each detector at its own threshold, OR) is fitted
beside them. With ``fusion.select=families`` all of them compete on the attack families of
the training captures, each held out of a training of both detectors
(:mod:`canids_models.families`); with ``fusion.select=validation`` the default is whichever
scores best on validation, frozen and calibrated protocols averaged, a tie going to the
first in ``fusion.tie_order`` (the metrics record it). The default, ``auto``, is the
families rule wherever the training captures hold two attack families or more,
validation's otherwise (the metrics say which). A distilled student with
``fusion.select=teacher`` deploys its teacher's pick (:mod:`.fusion_teacher`).
"""

from __future__ import annotations

from ..attack_families import attack_families, choosing_rule
from ..config import TIE_MARGIN  # re-exported: validation F1 closer than this is a tie
from ..context import StageContext
from ..errors import ModelsError
from ..families import choose_by_families, family_figures
from ..fusion_methods import CUT_FUSIONS, EITHER, FUSION_METHODS, TIE_ORDERS
from ..fusion_model import FusionModel
from ..lineage import read_stamps
from ..scoring import SplitScores, score_split
from .common import StageOutcome, publish, require_two_classes
from .fusion_calibration import calibration_candidates, choose_calibration
from .fusion_checks import require_both_past_warmup, require_normal_for_rate
from .fusion_fit import fit_frozen
from .fusion_lines import selection_lines
from .fusion_record import fusion_metrics, selection_record
from .fusion_teacher import teacher_pick

__all__ = ["TIE_MARGIN", "calibration_candidates", "load_fusion", "run_fusion"]


def run_fusion(ctx: StageContext) -> StageOutcome:
    cfg = ctx.config
    require_two_classes(ctx, ctx.split("val").labels())  # before anything is loaded or written
    require_both_past_warmup(ctx)
    require_normal_for_rate(ctx)
    # Held out first: each family's run trains, and this fit starts seeded as without them.
    held = attack_families(ctx.split("train").manifest.data)
    rule, rule_reason = choosing_rule(cfg.fusion, held, ctx.dataset)
    ctx.log(f"fusion: choosing by {rule} ({rule_reason})")
    fusions = FUSION_METHODS + (CUT_FUSIONS if cfg.fusion.cut_fusions else ())
    # Read before anything is written, so that a missing teacher stops the stage clean.
    teacher = teacher_pick(ctx, (*fusions, EITHER)) if rule == "teacher" else None
    families = family_figures(ctx, held) if rule == "families" else None
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    inputs = [(ctx.size, "gat"), (ctx.size, "vgae")]
    inputs += [(teacher.teacher, "fusion")] if teacher is not None else []
    read = read_stamps(ctx.store, ctx.dataset, inputs)
    ctx.store.begin(ctx.dataset, ctx.size, "fusion")
    val = score_split(
        ctx.split("val"),
        "val",
        gat,
        vgae,
        cfg.batching,
        ctx.device,
        track=lambda n: ctx.tracker("scoring val", n),
    )
    fitted = fit_frozen(ctx, val, fusions)
    model = fitted.model
    order = TIE_ORDERS[cfg.fusion.tie_order]  # which fusion a tie goes to
    # The pick of the families rule (frozen F1 on held-out families) or of the teacher:
    # known before any period.
    family_means: dict[str, float] = {}
    by_rule: str | None = None if teacher is None else teacher.method
    if families is not None:
        val_f1 = {m: model.thresholds[m].val_f1 for m in model.methods}
        by_rule, family_means = choose_by_families(
            families, val_f1, model.methods, cfg.fusion.families_margin, order
        )
    cal = choose_calibration(ctx, fitted, val, fusions, by_rule, order)
    for name, choice in cal.choices.items():
        model.calibration[name] = choice.rule
    method = by_rule or cal.by_validation
    model.warmup, model.seconds = cal.choices["gat" if method == EITHER else method].rule.period
    model.method = method
    model.selection = selection_record(
        ctx,
        fitted,
        cal,
        rule=rule,
        rule_reason=rule_reason,
        teacher=teacher,
        families=families,
        family_means=family_means,
        order=order,
    )
    ctx.log(selection_lines(model.selection))
    metrics = fusion_metrics(fitted, model.selection, (gat, vgae), cfg.eval.frozen_warmup)
    return publish(ctx, "fusion", "fusion", model.to_checkpoint(), metrics, read=read)


def load_fusion(ctx: StageContext) -> FusionModel:
    ckpt = ctx.store.load(ctx.dataset, ctx.size, "fusion")
    try:
        return FusionModel.from_checkpoint(ckpt)
    except ValueError as exc:
        where = ctx.store.dir(ctx.dataset, ctx.size, "fusion")
        raise ModelsError(
            f"{where}: {exc}; to fit it again: rm -r {where}, then "
            f"{ctx.store.train_command('fusion', ctx.dataset, ctx.size)}"
        ) from exc


def scores_of(ctx: StageContext, split: str) -> SplitScores:
    """Both detectors' scores over ``split`` (for evaluation)."""
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    return score_split(
        ctx.split(split),
        split,
        gat,
        vgae,
        ctx.config.batching,
        ctx.device,
        track=lambda n: ctx.tracker(f"scoring {split}", n),
    )
