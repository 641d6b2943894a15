"""The held-out results table: every row names its split and protocol, every F1 stands
beside the flag-everything F1 of the same windows, and a row no better than flagging
everything is marked."""

from __future__ import annotations

from typing import Any

from canids_core import format_table

from ..report_data import clean_start_highest

__all__ = ["COLUMNS", "format_results_table"]

COLUMNS = (
    "split",
    "protocol",
    "model",
    "params",
    "windows",
    "attacks",
    "f1",
    "flag-all f1",
    "precision",
    "recall",
    "fpr",
    "alarms/h",
    "auroc",
    "auprc",
)


def _num(value: Any, digits: int = 3) -> str:
    return "undefined" if value is None else f"{value:.{digits}f}"


def _f1(row: dict[str, Any]) -> str:
    text = _num(row["f1"])
    return text + " ≈flag-all" if row.get("near_flag_all") else text


def format_results_table(
    rows: list[dict[str, Any]],
    dataset: str,
    size: str,
    fusion: Any = None,
    audits: dict[str, Any] | None = None,
) -> str:
    head = [
        f"Held-out results: {dataset} ({size}). Protocols: frozen = thresholds fitted on "
        "validation and frozen; calibrated = each test capture's unlabeled clean start "
        "sets its own normalisation and threshold (those windows are not scored)."
    ]
    if fusion is not None:
        head.append(
            f"Fusion: {fusion.method} ({fusion.chosen_by}); calibration: "
            f"{fusion.calibration_label(fusion.method)}."
        )
        cut = fusion.selection.get("vgae_cut") or {}
        if cut.get("false_alarm_rate") is not None:
            recalls = ""
            if cut.get("val_recall") is not None and cut.get("f1_cut_val_recall") is not None:
                recalls = (
                    f" It recalls {cut['val_recall']:.3f} of validation's attacks; the max-F1 "
                    f"cut would recall {cut['f1_cut_val_recall']:.3f}."
                )
            head.append(
                f"VGAE: its frozen threshold flags at most {cut['false_alarm_rate']:g} of "
                "validation's normal windows (fusion.vgae_false_alarm_rate), not max F1." + recalls
            )
        if fusion.frozen_warmup > 0:
            head.append(
                f"Frozen: the windows that end in each capture's first {fusion.frozen_warmup:g}"
                " s (the features' warm-up) are neither fitted on nor scored."
            )
    body = []
    notes = []
    for r in rows:
        split = r["split"] + ("" if r["held_out"] else " (validation, not held out)")
        body.append(
            [
                split,
                r["protocol"],
                r["model"],
                f"{r['parameters']:,}",
                r["n"],
                r["positives"],
                _f1(r),
                _num(r["flag_all_f1"]),
                _num(r["precision"]),
                _num(r["recall"]),
                _num(r["fpr"]),
                _num(r["false_alarms_per_hour"], 1),
                _num(r["auroc"]),
                _num(r["auprc"]),
            ]
        )
        if r.get("note") and (r["split"], r["note"]) not in notes:
            notes.append((r["split"], r["note"]))
    lines = [*head, "", format_table(list(COLUMNS), body, style="markdown")]
    lines += [f"- {split}: {note}" for split, note in notes]
    lines.append(
        "- ≈flag-all: F1 within 0.01 of flagging every window (no information beyond the "
        "attack share)."
    )
    models = list(dict.fromkeys(r["model"] for r in rows))
    clean = [
        f"  - {split}: {', '.join(parts)}"
        for split, a in (audits or {}).items()
        if (parts := clean_start_highest(a, models))
    ]
    if clean:
        lines.append(
            "- clean start: share of a capture's unlabeled calibration windows (its normal "
            "traffic) that the frozen threshold flags, highest capture; far above "
            "validation's share, that frozen threshold does not transfer:"
        )
        lines += clean
    lines += _saturated(rows)
    for split, a in (audits or {}).items():
        if a["captures_with_attack_in_calibration"]:
            lines.append(
                f"- audit {split}: {a['captures_with_attack_in_calibration']} of "
                f"{a['captures']} captures have an attack inside their calibration windows "
                "(reported, never used for tuning)"
            )
    return "\n".join(lines)


def _saturated(rows: list[dict[str, Any]]) -> list[str]:
    """A line per held-out split and model whose calibration α asked for more than a
    capture's calibration windows can say (:func:`canids_models.calibration.saturates`)."""
    out = []
    for r in rows:
        if r["held_out"] and r.get("saturated_captures"):
            out.append(
                f"- calibration {r['split']}, {r['model']}: {r['calibration']} asks for more "
                f"than {r['calibration_windows_min']} calibration windows can say on "
                f"{r['saturated_captures']} capture(s): a quantile α below 1/(n−1) is the "
                "capture's highest calibration score, a conformal α below 1/(n+1) flags nothing"
            )
    return out
