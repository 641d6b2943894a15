"""Stage ``evaluate``: held-out test metrics per split under both protocols.

``frozen``: thresholds fitted on validation and frozen. ``calibrated``: each test capture's
windows that end within its first ``calibration_seconds`` (chosen on validation) are scored
without labels and set that capture's normalisation and thresholds; they are not scored.
Every row names its split and protocol; validation rows say they are not held out. A
metric undefined on a split is ``None`` ("undefined"), with the reason on the row; beside
every F1 stands the flag-everything F1 of the same windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..calibration import calibration_phases
from ..checkpoints import count_parameters
from ..context import StageContext
from ..fusion_inputs import FusedScores
from ..fusion_methods import EITHER
from ..fusion_model import FusionModel
from ..lineage import read_stamps
from ..metrics import binary_metrics
from ..run_report import run_report_html
from ..scoring import SplitScores
from .common import StageOutcome, publish
from .evaluate_calibration import (
    calibrated_split_flags,
    calibration_audit,
    clean_start_shares,
    uncalibratable,
)
from .fusion import load_fusion, scores_of
from .results_table import format_results_table

__all__ = ["evaluate_split", "run_evaluate", "uncalibratable"]

PROTOCOLS = ("frozen", "calibrated")


def _not_scorable(y: np.ndarray) -> str | None:
    if len(y) and not y.any():
        return (
            "not scorable by window labels: no window of this split carries an attack label "
            "(suppression attacks remove frames, and a frame that never arrived has no label); "
            "recall, F1, AUROC and AUPRC are undefined, false alarms are reported"
        )
    return None


def evaluate_split(
    fusion: FusionModel,
    scores: SplitScores,
    models: tuple[str, ...],
    arrays: dict[str, np.ndarray] | None = None,
    *,
    frozen_only: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Metric rows of one split for ``models`` (gat, vgae, fusion:METHOD…) under both
    protocols, or frozen only when ``frozen_only`` gives the reason (kept in the audit), and
    the split's calibration audit. With ``arrays``, every window's score, flag and threshold
    is added to it (``scores.npz``: what reports plot)."""
    rows: list[dict[str, Any]] = []
    frozen = fusion.frozen_inputs(scores)
    protocols: list[tuple[str, FusedScores]] = [("frozen", frozen)]
    clean_start = None
    if frozen_only is None:
        calibrated = fusion.calibrated_inputs(scores)
        protocols.append(("calibrated", calibrated))
        audit = calibration_audit(scores, calibrated)
        audit["clean_start_frozen_alarms"] = {}
        clean_start = calibration_phases(
            scores.window_end, scores.capture_start, fusion.seconds, fusion.warmup
        )[1]
    else:
        audit = {
            "captures": len(scores.captures()),
            "calibration_windows": 0,
            "captures_with_attack_in_calibration": 0,
            "tainted_captures": [],
            "calibrated": frozen_only,
        }
    # Reported, never used: what the frozen protocol's warm-up leaves unscored.
    skipped = ~frozen.scored
    audit["frozen_warmup_windows"] = int(skipped.sum())
    audit["frozen_warmup_attack_windows"] = int(scores.y[skipped].sum())
    if arrays is not None:
        for name in ("y", "source", "window_start", "window_end", "capture_start"):
            arrays[f"{scores.split}/{name}"] = getattr(scores, name)
    guard_flags: dict[str, np.ndarray] = {}  # what a guarded calibration also requires
    for protocol, inputs in protocols:
        mask = inputs.scored
        y = scores.y[mask]
        margins: dict[str, np.ndarray] = {}  # each detector's score past its threshold
        decided: dict[str, np.ndarray] = {}
        for model in models:
            method = model.split(":", 1)[1] if ":" in model else model
            fused = fusion.fuse(method, inputs)
            if method == EITHER and not {"gat", "vgae"} <= decided.keys():
                raise ValueError(f"{model} decides with gat and vgae: list both before it")
            if protocol == "calibrated" and method == EITHER:
                # Each detector at its own calibrated threshold, OR: the margin past the
                # nearer one is the score, 0 the threshold.
                fused = np.maximum(margins["gat"], margins["vgae"])
                flags, per_window = decided["gat"] | decided["vgae"], np.zeros(len(fused))
                info = {
                    "calibration": fusion.calibration_label(EITHER),
                    "guard": fusion.calibration["gat"].guard or fusion.calibration["vgae"].guard,
                    # On the margin scale every capture's threshold is 0.
                    "capture_thresholds": {str(int(i[0])): 0.0 for i in _sources(scores)},
                }
            elif protocol == "frozen":
                thr = fusion.thresholds[method]
                flags, info = thr.apply(fused), {"threshold": thr.value}
                if method != EITHER:  # its calibrated decision ORs the detectors' own
                    guard_flags[model] = fusion.guard_flags(method, fused, inputs)
                per_window = np.full(len(fused), thr.value)
                if clean_start is not None:
                    audit["clean_start_frozen_alarms"][model] = clean_start_shares(
                        scores, flags, clean_start
                    )
            else:
                flags, info = calibrated_split_flags(
                    fusion, method, scores, fused, guard_flags[model]
                )
                per_capture = {int(k): v for k, v in info["capture_thresholds"].items()}
                per_window = np.array([per_capture[int(c)] for c in scores.source])
                if info["guard"]:
                    # Whatever its calibrated score, a window the guard holds back is not
                    # flagged: its threshold is at least its score (reports draw it at the
                    # line, on the unflagged side).
                    held = ~guard_flags[model]
                    per_window[held] = np.maximum(per_window[held], fused[held])
            margins[method], decided[method] = fused - per_window, flags
            if arrays is not None:
                key = f"{scores.split}/{protocol}/{model}"
                arrays[f"{key}/score"] = fused.astype(np.float32)
                arrays[f"{key}/flag"] = flags & mask
                arrays[f"{key}/threshold"] = per_window.astype(np.float32)
                arrays[f"{scores.split}/{protocol}/scored"] = mask
            m = binary_metrics(y, flags[mask], fused[mask], hours=scores.hours(mask))
            note = _not_scorable(y)
            if note is not None:
                # Without an attack window F1 would read 0 for a model with one false alarm
                # and undefined for a quiet one: it is undefined for every model, and why.
                m["f1"] = None
            rows.append(
                {
                    "split": scores.split,
                    "protocol": protocol,
                    "model": model,
                    "held_out": scores.split != "val",
                    "note": note,
                    **info,
                    **m,
                }
            )
    return rows, audit


def _sources(scores: SplitScores) -> list[np.ndarray]:
    return [scores.source[idx[:1]] for idx in scores.captures()]


def run_evaluate(ctx: StageContext) -> StageOutcome:
    fusion = load_fusion(ctx)
    gat, vgae = ctx.load_model("gat"), ctx.load_model("vgae")
    params = {"gat": count_parameters(gat), "vgae": count_parameters(vgae)}
    dqn = count_parameters(fusion.policy.qnet) if fusion.policy is not None else 0  # type: ignore[union-attr]
    del gat, vgae
    read = read_stamps(ctx.store, ctx.dataset, [(ctx.size, k) for k in ("vgae", "gat", "fusion")])
    models = ("vgae", "gat", f"fusion:{fusion.method}")
    candidates = tuple(f"fusion:{m}" for m in fusion.methods if m != fusion.method)
    ctx.store.begin(ctx.dataset, ctx.size, "results")
    rows: list[dict[str, Any]] = []
    audits: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for split in ["val", *ctx.test_splits()]:
        scores = scores_of(ctx, split)
        # A held-out split must calibrate (calibrated_inputs says why not); validation is
        # scored frozen only where it holds no capture start.
        why = uncalibratable(fusion, scores) if split == "val" else None
        split_rows, audits[split] = evaluate_split(
            fusion, scores, models + candidates, arrays, frozen_only=why
        )
        for r in split_rows:
            name = r["model"]
            r["parameters"] = (
                params["gat"] + params["vgae"] + (dqn if name == "fusion:dqn" else 0)
                if name.startswith("fusion")
                else params[name]
            )
            r.update(dataset=ctx.dataset, size=ctx.size, default=name in models)
        rows += split_rows
        a = audits[split]
        ctx.log(
            f"evaluated {split}: {len(scores)} windows; "
            + (
                why
                if why is not None
                else f"calibration audit: {a['captures_with_attack_in_calibration']} of "
                f"{a['captures']} captures have an attack inside their first "
                f"{fusion.warmup + fusion.seconds:g} s (warm-up and calibration; reported, "
                "never used to tune)"
            )
            + (
                f"; frozen warm-up: {a['frozen_warmup_windows']} windows in the first "
                f"{fusion.frozen_warmup:g} s not scored, {a['frozen_warmup_attack_windows']} "
                "of them attacks"
                if fusion.frozen_warmup > 0
                else ""
            )
        )
    table = format_results_table(
        [r for r in rows if r["default"]], ctx.dataset, ctx.size, fusion, audits
    )
    ctx.log(table)
    metrics = {
        "rows": rows,
        "protocols": list(PROTOCOLS),
        "fusion_method": fusion.method,
        "fusion_chosen_by": fusion.chosen_by,
        "calibration_seconds": fusion.seconds,
        "calibration_warmup": fusion.warmup,
        "frozen_warmup": fusion.frozen_warmup,
        "vgae_false_alarm_rate": (fusion.selection.get("vgae_cut") or {}).get("false_alarm_rate"),
        "calibration": {k: r.to_json() for k, r in fusion.calibration.items()},
        "guard_at": fusion.guard_at,
        "cut_units_at": fusion.cut_units_at,
        "thresholds": {k: t.to_json() for k, t in fusion.thresholds.items()},
        "audit": audits,
        "held_out_splits": ctx.test_splits(),
        "parameters": {**params, "fusion": params["gat"] + params["vgae"] + dqn},
    }
    ctx.store.write_arrays(ctx.dataset, ctx.size, "results", "scores.npz", arrays)
    return publish(
        ctx,
        "evaluate",
        "results",
        None,
        metrics,
        {"results.md": table + "\n", "report.html": run_report_html(ctx, metrics, arrays)},
        read=read,
    )
