"""The fusion stage's account of its choice, as log lines."""

from __future__ import annotations

from typing import Any

from ..fusion_methods import TIE_ORDERS

__all__ = ["selection_lines"]


def selection_lines(selection: dict[str, Any]) -> str:
    lines = [f"fusion: default {selection['method']} ({selection['criterion']})"]
    if selection.get("rule_reason"):  # absent from metrics written before 0.17.0
        lines.append(f"  chosen by the {selection['rule']} rule: {selection['rule_reason']}")
    teacher = selection.get("teacher")  # absent before canids-models 0.26.0
    if teacher:
        lines.append(
            f"  the {teacher['teacher']}'s fusion finished {teacher['finished']}; validation "
            f"alone would have chosen {selection['validation_choice']}"
        )
    for family, fig in (selection.get("families") or {}).items():
        cells = ", ".join(f"{m} {f:.3f}" for m, f in fig["frozen_f1"].items())
        if fig.get("detector_f1"):  # none before 0.25.0
            cells += "; alone " + ", ".join(f"{m} {f:.3f}" for m, f in fig["detector_f1"].items())
        lines.append(f"  held out {family} ({fig['attack_windows']} attack windows): {cells}")
    if selection.get("families"):
        means = ", ".join(f"{m} {f:.3f}" for m, f in selection["family_mean_f1"].items())
        lines.append(
            f"  means {means}; within {selection['families_margin']:g} of the best is a tie "
            f"(frozen val F1, then the first of {_order(selection)}, breaks it)"
        )
        lines.append(f"  validation alone would have chosen {selection['validation_choice']}")
        alone = selection.get("family_detector_mean_f1") or {}  # none before 0.25.0
        if alone:
            method = selection["method"]
            pick = selection["family_mean_f1"].get(method)
            versus = "" if pick is None else f"; {method}'s {_against(pick, max(alone.values()))}"
            cells = ", ".join(f"{m} {f:.3f}" for m, f in alone.items())
            lines.append(f"  each detector alone (reported, never chosen): means {cells}{versus}")
    cut = selection.get("vgae_cut") or {}
    if cut.get("false_alarm_rate") is not None:
        lines.append(
            f"vgae frozen threshold {cut['value']:.3f}: {cut['method']} "
            "(fusion.vgae_false_alarm_rate; max F1 on validation would cut at "
            f"{cut['f1_cut']:.3f}); it recalls {_f(cut['val_recall'])} of validation's "
            f"attacks, the F1 cut {_f(cut['f1_cut_val_recall'])}"
        )
    period = selection.get("period")
    if period:
        branches = list(period["periods"][0]["f1"])
        # Whose system's period it is (canids-models 0.20.0: the deployed fusion's).
        whose = selection.get("period_system")
        of = f"; {whose}'s, fusion.period_of={selection.get('period_of')}" if whose else ""
        lines.append(
            f"calibration period: {period['warmup']:g} s warm-up, {period['seconds']:g} s, "
            f"chosen for {', '.join(branches)} together (mean best val F1 "
            f"{period['score']:.3f}{of})"
        )
    for name, s in selection["scores"].items():
        cal = s["calibrated"]
        if cal is None:  # either: both detectors' own rules
            lines.append(f"  {name:8} frozen val F1 {_f(s['frozen_val_f1'])}")
            continue
        lines.append(
            f"  {name:8} frozen val F1 {_f(s['frozen_val_f1'])}  calibrated val F1 "
            f"{_f(cal['val_f1'])} (LOCO {_f(cal['val_loco_f1'])}) with {cal['label']}"
        )
    return "\n".join(lines)


def _against(pick: float, best: float) -> str:
    gap = pick - best
    if abs(gap) < 5e-4:
        return f"{pick:.3f} equals the better detector's"
    side = "above" if gap > 0 else "below"
    return f"{pick:.3f} is {abs(gap):.3f} {side} the better detector's"


def _order(selection: dict[str, Any]) -> str:
    # Metrics written before 0.19.0 have no tie order: theirs was the simplest first.
    order = selection.get("tie_order") or TIE_ORDERS["simplest"]
    return ", ".join(order)


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
