"""What the fusion stage checks on validation before it loads or writes anything."""

from __future__ import annotations

import numpy as np

from ..context import StageContext
from ..errors import ModelsError

__all__ = ["require_both_past_warmup", "require_normal_for_rate"]


def require_both_past_warmup(ctx: StageContext) -> None:
    """The frozen fit reads validation past ``eval.frozen_warmup`` only: it must hold both
    classes there too (unless one_class_fit), checked before anything is written."""
    warmup = ctx.config.eval.frozen_warmup
    if warmup <= 0 or ctx.config.eval.one_class_fit:
        return
    y = _labels_past_warmup(ctx)
    if y.all() or not y.any():
        raise ModelsError(
            f"{ctx.dataset}: past each capture's first {warmup:g} s (eval.frozen_warmup) "
            f"validation holds {int(y.sum())} attack and {int(len(y) - y.sum())} normal "
            "windows, so the frozen thresholds would be fitted blind: shorten it (--set "
            "eval.frozen_warmup=…) or opt into an anomaly-only fit (--set "
            "eval.one_class_fit=true)"
        )


def require_normal_for_rate(ctx: StageContext) -> None:
    """A false-alarm rate is measured on validation's normal windows past the frozen
    warm-up; with none (an anomaly-only fit on attacks) there is nothing to measure it on."""
    if ctx.config.fusion.vgae_false_alarm_rate is None:
        return
    warmup = ctx.config.eval.frozen_warmup
    y = _labels_past_warmup(ctx)
    if y.all():
        raise ModelsError(
            f"{ctx.dataset}: fusion.vgae_false_alarm_rate sets the VGAE's cut on validation's "
            f"normal windows, and validation holds no normal window ({len(y)} windows past "
            f"the frozen warm-up of {warmup:g} s, all attacks): unset it (--set "
            "fusion.vgae_false_alarm_rate=null) or rebuild the cache with validation blocks"
        )


def _labels_past_warmup(ctx: StageContext) -> np.ndarray:
    """Validation's labels of the windows the frozen fit reads: those that end past each
    capture's first ``eval.frozen_warmup`` seconds (every window without one)."""
    val, warmup = ctx.split("val"), ctx.config.eval.frozen_warmup
    y = np.asarray(val.labels()).astype(bool)
    if warmup <= 0:
        return y
    return y[(np.asarray(val.window_times()[1]) - val.capture_starts()) > warmup]
