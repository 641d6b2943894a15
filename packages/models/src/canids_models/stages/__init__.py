"""Stage runners: one function per stage of the catalogue."""

from __future__ import annotations

from ..catalog import STAGES
from ..context import StageContext
from ..errors import ConfigError
from ..lineage import require_current_inputs
from .common import StageOutcome
from .evaluate import run_evaluate
from .fusion import run_fusion
from .gat import run_gat
from .results_table import format_results_table
from .vgae import run_vgae

__all__ = ["StageOutcome", "format_results_table", "run_stage"]


def run_stage(stage: str, ctx: StageContext) -> StageOutcome | None:
    """Run ``stage``; its outcome, or ``None`` on a data-parallel rank other than 0 (rank 0
    publishes). A stage that is not data-parallel (fusion, evaluate: see
    ``StageSpec.data_parallel``) runs on rank 0 alone."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    if ctx.distill_from is not None and not STAGES[stage].distill_consumes:
        raise ConfigError(f"stage {stage} does not distil: drop --distill-from")
    if ctx.ranks.parallel and not STAGES[stage].data_parallel:
        if not ctx.ranks.is_main:
            return None
        ctx.log(f"{stage}: {STAGES[stage].single_worker_reason}; running on rank 0 alone")
    # Before anything is loaded or written: an input of another config, one whose own
    # inputs were made again since, or one made on another build of the cache is refused
    # (canids_models.lineage).
    require_current_inputs(ctx, stage)
    if stage == "vgae":
        return run_vgae(ctx)
    if stage in ("gat", "gat_curriculum"):
        return run_gat(ctx, curriculum=stage == "gat_curriculum")
    if stage == "fusion":
        return run_fusion(ctx)
    return run_evaluate(ctx)
