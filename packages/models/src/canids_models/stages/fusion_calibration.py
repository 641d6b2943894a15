"""The fusion stage's calibration choices: the candidate rules of the config, the periods
validation's clean start can judge, and the choice among them (never on a test split)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..calibration import CALIBRATION_RULES, CalibrationRule
from ..calibration_period import PeriodChoice, select_period
from ..calibration_select import CalibrationChoice, select_calibration
from ..context import StageContext
from ..errors import ModelsError
from ..fusion_inputs import calibrated_inputs
from ..scoring import SplitScores
from .fusion_choice import choose_by_validation, period_system
from .fusion_fit import FrozenFit

__all__ = [
    "CalibrationOutcome",
    "calibration_candidates",
    "choose_calibration",
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


@dataclass(frozen=True)
class CalibrationOutcome:
    """Each score's calibration rule for the deployed period, validation's own fusion
    choice, and how the period was judged (the stage's record reads them)."""

    choices: dict[str, CalibrationChoice]  # per score, at the period the run deploys
    by_validation: str  # validation's pick among the score fusions (or the configured one)
    fixed: bool  # the rule, parameter, warm-up and length set by the config
    clean: bool  # validation's attack windows left out of each calibration set
    score_after: float | None  # every period scored after this many seconds (clean only)
    period_from: str | None = None  # the system whose period every score calibrates on
    period_choice: PeriodChoice | None = None
    systems: dict[str, PeriodChoice] = field(default_factory=dict)
    choices_at_own: dict[str, CalibrationChoice] = field(default_factory=dict)


def choose_calibration(
    ctx: StageContext,
    fitted: FrozenFit,
    val: SplitScores,
    fusions: tuple[str, ...],
    by_rule: str | None,
    order: tuple[str, ...],
) -> CalibrationOutcome:
    """Every score's calibration rule, chosen by leave-one-capture-out on validation (or
    fixed by the config), and validation's own fusion choice. ``by_rule`` is the pick of
    the families rule or of the teacher, where one decides: its system's period is the one
    the run calibrates on (``fusion.period_of=pick``)."""
    cfg = ctx.config
    model = fitted.model
    fixed = fixed_rule(ctx)
    clean = cfg.calibration.clean_validation
    attacks = val.y.astype(bool) if clean else None
    # The periods validation chooses among (none with a fixed rule), read once.
    periods = period_grid(ctx) if fixed is None else []
    score_after = max(w + t for w, t in periods) if clean and periods else None
    if fixed is not None:
        # Rule, parameter, warm-up and length all set by the user: nothing is chosen on
        # validation (which may hold no clean start to choose on), and the results say so.
        choices = {
            name: CalibrationChoice(fixed, float("nan"), None, guard_at=cfg.calibration.guard_at)
            for name in ("gat", "vgae", *fusions)
        }
        by_validation = choose_by_validation(cfg.fusion.method, model, choices, order)
        return CalibrationOutcome(choices, by_validation, True, clean, score_after)

    def streams(name: str) -> Any:
        def at(warmup: float, seconds: float) -> Any:
            inputs = calibrated_inputs(val, warmup, seconds, model.scale_floors, exclude=attacks)
            return val.streams(
                model.fuse(name, inputs),
                with_labels=True,
                frozen_flags=fitted.guard_flags[name],
                clean_calibration=clean,
                score_after=score_after,
            )

        return at

    # A deployment calibrates once: each fusion is judged as a system, its own score and
    # both detectors sharing the period chosen for the three together; the method is then
    # chosen on those systems, and every score takes its best rule for the winner's period.
    chosen: dict[tuple[str, tuple[float, float]], CalibrationChoice] = {}

    def choose(name: str, period: tuple[float, float]) -> CalibrationChoice:
        # Every system shares the GAT and VGAE branches: each (score, period) once.
        if (name, period) not in chosen:
            rules = calibration_candidates(ctx, period)
            chosen[name, period] = select_rule(ctx, streams(name), rules)
        return chosen[name, period]

    systems = {m: shared_period(ctx, choose, periods, m) for m in fusions}
    choices_at_own = {m: choose(m, system.period) for m, system in systems.items()}
    by_validation = choose_by_validation(cfg.fusion.method, model, choices_at_own, order)
    period_from = period_system(
        cfg.fusion.period_of, by_rule or by_validation, by_validation, systems
    )
    period_choice = systems[period_from]
    choices = {name: choose(name, period_choice.period) for name in ("gat", "vgae", *fusions)}
    return CalibrationOutcome(
        choices,
        by_validation,
        False,
        clean,
        score_after,
        period_from,
        period_choice,
        systems,
        choices_at_own,
    )
