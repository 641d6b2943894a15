"""The fusion stage's calibration choices: the candidate rules of the config, the periods
validation's clean start can judge, and the choice among them (never on a test split)."""

from __future__ import annotations

from typing import Any

from ..calibration import CALIBRATION_RULES, CalibrationRule
from ..calibration_select import (
    CalibrationChoice,
    PeriodChoice,
    select_calibration,
    select_period,
)
from ..context import StageContext
from ..errors import ModelsError

__all__ = [
    "calibration_candidates",
    "clean_start_seconds",
    "fixed_rule",
    "period_grid",
    "select_rule",
    "shared_period",
]


def calibration_candidates(ctx: StageContext, period: tuple[float, float]) -> list[CalibrationRule]:
    """Every (rule, parameter, guard) of the config for one (warm-up, seconds) period,
    simplest and strictest first (earlier candidates win ties: a guard must win on its own).
    Scores are normalised (the validation scale is 1), so the z-score scale floor is
    ``calibration.scale_floor`` itself."""
    cal = ctx.config.calibration
    floor = cal.scale_floor
    rules = CALIBRATION_RULES if cal.rule == "auto" else (cal.rule,)
    guards = {"auto": (False, True), "on": (True,), "off": (False,)}[cal.guard]
    warmup, seconds = period
    out = []
    for guard in guards:
        for rule in rules:
            params = cal.zscore_k if rule == "zscore" else cal.alphas
            if cal.param is not None and cal.rule != "auto":
                params = (cal.param,)
            out += [
                CalibrationRule(rule, float(p), float(seconds), floor, float(warmup), guard)
                for p in params
            ]
    return out


def clean_start_seconds(ctx: StageContext) -> float:
    """How much clean start every training capture has in validation: the cache's
    ``val_start_seconds``, cut to ``val_start_max_fraction`` of the shortest capture."""
    manifest = ctx.split("train").manifest.data
    config = manifest["config"]
    limit = float(config.get("val_start_seconds", 0.0))
    share = float(config.get("val_start_max_fraction", 0.0))
    for src in manifest["sources"]:
        if src["split"] == "train" and src.get("used", True) and "last_timestamp" in src:
            duration = float(src["last_timestamp"]) - float(src["first_timestamp"])
            limit = min(limit, duration * share)
    return limit


def period_grid(ctx: StageContext) -> list[tuple[float, float]]:
    """(warm-up, seconds) pairs to choose from: each fits in the validation clean start;
    shorter warm-ups and lengths first (they win ties)."""
    cal = ctx.config.calibration
    seconds = [float(cal.seconds)] if cal.seconds is not None else list(cal.seconds_grid)
    warmups = [float(cal.warmup)] if cal.warmup is not None else list(cal.warmup_grid)
    limit = clean_start_seconds(ctx)
    grid = [(w, t) for w in warmups for t in seconds if w + t <= limit + 1e-9]
    if not grid:
        raise ModelsError(
            f"{ctx.dataset}: validation holds {limit:g} s of clean start per training capture,"
            f" shorter than every warm-up + calibration length (warm-ups {warmups}, lengths "
            f"{seconds}), so none can be chosen on validation. Rebuild the cache with a longer "
            f"clean start (`canids-cache build --dataset {ctx.dataset} --val-start-seconds "
            "10`), or pass shorter ones (--set calibration.seconds_grid=[0.5,1] --set "
            "calibration.warmup_grid=[0]), or fix the rule, its parameter, warm-up and length"
        )
    return grid


def shared_period(
    ctx: StageContext, choose: Any, periods: list[tuple[float, float]], method: str
) -> PeriodChoice:
    cal = ctx.config.calibration
    # 0.18.0's "first" took the exact best: its margin is the rules' alone.
    margin = cal.tie_margin if cal.period_ties == "longest" else None
    try:
        return select_period(("gat", "vgae", method), periods, choose, cal.period_ties, margin)
    except ValueError as exc:
        raise ModelsError(f"{ctx.dataset}: choosing the calibration period: {exc}") from exc


def fixed_rule(ctx: StageContext) -> CalibrationRule | None:
    cal = ctx.config.calibration
    if cal.rule == "auto" or cal.param is None or cal.seconds is None:
        return None
    warmup = 0.0 if cal.warmup is None else float(cal.warmup)
    guard = cal.guard == "on"  # nothing is chosen on validation with a fixed rule
    return CalibrationRule(
        cal.rule, float(cal.param), float(cal.seconds), cal.scale_floor, warmup, guard
    )


def select_rule(
    ctx: StageContext, streams: Any, candidates: list[CalibrationRule]
) -> CalibrationChoice:
    try:
        cal = ctx.config.calibration
        return select_calibration(streams, candidates, cal.guard_at, cal.tie_margin, cal.rule_ties)
    except ValueError as exc:
        raise ModelsError(f"{ctx.dataset}: choosing the calibration rule: {exc}") from exc
