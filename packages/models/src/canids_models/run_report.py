"""``report.html``: a run's results as a person looks at them, one self-contained page.

Per held-out split: the metric rows, ROC and precision-recall curves of the VGAE, the GAT
and the default fusion, score histograms of normal and attack windows with the thresholds
drawn (both protocols), and the confusion matrices. Per run: the training curves, the
graph-size profile of the cache's train split (canids-batching's profiler), the parameter
counts and the commands that reproduce it. The evaluate stage writes it beside
``results.md``; ``canids-report`` rebuilds it from a run's artifacts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canids_core import HtmlPage

from .artifacts import ArtifactStore
from .report_data import (
    PROTOCOLS,
    RunData,
    SplitData,
    clean_start_highest,
    load_run,
)
from .report_figures import confusion_png, histogram_png, roc_pr_png, training_png
from .report_run_sections import commands_section, graph_profile, number, profile_section

if TYPE_CHECKING:
    import numpy as np

    from .context import StageContext

__all__ = ["render_run_report", "run_report_html", "write_run_report"]

_HISTOGRAMS = (
    "Frozen (top row): each window's score, and the one threshold fitted on validation "
    "(flagged at or above it). Calibrated (bottom row): every capture has its own "
    "threshold, set by its unlabeled clean start, so one line cannot stand for them all; "
    "each window is drawn at its score minus its own capture's threshold, and the line at "
    "0 is every capture's threshold (flagged above it). Bars are the share of each class's "
    "windows per bin; values beyond the axis are counted in the edge bins. The calibrated "
    "protocol does not score a capture's warm-up and calibration windows: they are not drawn."
)


def _row_cells(row: dict[str, Any]) -> list[object]:
    return [
        row["protocol"],
        row["model"],
        number(row["n"]),
        number(row["positives"]),
        number(row["f1"]),
        number(row["flag_all_f1"]),
        number(row["precision"]),
        number(row["recall"]),
        number(row["fpr"]),
        number(row["auroc"]),
        number(row["auprc"]),
        number(row.get("false_alarms_per_hour"), 1),
    ]


_ROW_HEAD = ["protocol", "model", "windows", "attacks", "F1", "flag-all F1", "precision"]
_ROW_HEAD += ["recall", "FPR", "AUROC", "AUPRC", "false alarms/h"]


def _summary(page: HtmlPage, data: RunData) -> None:
    m = data.metrics
    fusion = data.models[-1]
    sec = page.section("Summary", kind="summary")
    text = (
        f"Run {data.run}, dataset {data.dataset}, size {data.size}. Models: VGAE, GAT and "
        f"the default fusion {fusion} ({m.get('fusion_chosen_by', 'chosen on validation')})."
        " Calibrated protocol: each "
        f"test capture's first {m['calibration_warmup']:g} s (warm-up) are skipped and the "
        f"next {m['calibration_seconds']:g} s set its threshold; neither is scored."
    )
    rate = m.get("vgae_false_alarm_rate")
    if rate is not None:
        text += (
            f" The VGAE's frozen threshold flags at most {rate:g} of validation's normal "
            "windows (fusion.vgae_false_alarm_rate), not max F1."
        )
    sec.paragraph(text)
    rows = [
        [split, *_row_cells(d.row(p, fusion))]
        for split, d in data.splits.items()
        for p in PROTOCOLS
    ]
    sec.table(["split", *_ROW_HEAD], rows)
    warnings = [
        f"{r['split']}: {r['model']} ({r['protocol']}) flags (nearly) every window: its F1 "
        f"{number(r['f1'])} is the flag-everything F1 {number(r['flag_all_f1'])}"
        for d in data.splits.values()
        for r in d.rows
        if r.get("near_flag_all")
    ]
    if warnings:
        sec.heading("Flag-everything warnings")
        sec.items(warnings)


def _split_section(page: HtmlPage, data: SplitData, audit: dict[str, Any] | None) -> None:
    sec = page.section(f"Held-out split {data.split}", kind="split", name=data.split)
    captures = len(set(data.source.tolist()))
    text = f"{len(data.y):,} windows ({int(data.y.sum()):,} attacks) from {captures} capture(s)."
    if audit:
        text += (
            f" Calibration audit: {audit['calibration_windows']:,} windows set thresholds and "
            f"are not scored; {audit['captures_with_attack_in_calibration']} of "
            f"{audit['captures']} captures hold an attack in them (reported, never tuned on)."
        )
        parts = clean_start_highest(audit, list(dict.fromkeys(r["model"] for r in data.rows)))
        if parts:
            text += (
                " Share of a capture's unlabeled clean start flagged by the frozen thresholds "
                f"(highest capture): {', '.join(parts)}; far above validation's, a frozen "
                "threshold does not transfer to that capture."
            )
    sec.paragraph(text)
    for note in sorted({r["note"] for r in data.rows if r.get("note")}):
        sec.paragraph(note, note=True)
    sec.table(_ROW_HEAD, [_row_cells(r) for r in data.rows])
    sec.heading("ROC and precision-recall curves")
    sec.image(roc_pr_png(data), alt=f"ROC and PR curves of {data.split}")
    sec.heading("Score histograms and thresholds")
    sec.paragraph(_HISTOGRAMS, note=True)
    sec.image(histogram_png(data), alt=f"score histograms of {data.split}")
    sec.heading("Confusion matrices")
    sec.image(confusion_png(data), alt=f"confusion matrices of {data.split}")


def _training(page: HtmlPage, data: RunData) -> None:
    sec = page.section("Training", kind="training")
    sec.image(training_png(data.stages), alt="training curves")
    rows = []
    for key in ("vgae", "gat"):
        m = data.stages.get(key, {}).get("metrics")
        if m is None:
            rows.append([key, "artifact not in this run", "", "", ""])
            continue
        best = m.get("best_val_f1", m.get("best_val_loss"))
        what = "validation F1" if "best_val_f1" in m else "validation loss"
        stopped = "yes" if m.get("stopped_early") else "no"
        row = [m.get("stage", key), number(m.get("epochs_run")), number(m.get("best_epoch"))]
        rows.append([*row, f"{number(best)} ({what})", stopped])
    fusion = data.stages.get("fusion", {}).get("metrics")
    if fusion is not None:
        steps = len(fusion.get("dqn_history", []))
        rows.append(
            ["fusion", "n/a", "n/a", f"default {fusion.get('method')}", f"{steps} DQN log points"]
        )
    sec.table(["stage", "epochs run", "best epoch", "best", "stopped early"], rows)


def _parameters(page: HtmlPage, data: RunData) -> None:
    sec = page.section("Parameters", kind="parameters")
    params = data.metrics.get("parameters", {})
    sec.table(["model", "parameters"], [[k, number(v)] for k, v in params.items()])
    sec.paragraph("fusion counts the GAT, the VGAE and (for the DQN) its Q-network.", note=True)


def render_run_report(
    store: ArtifactStore,
    dataset: str,
    size: str,
    *,
    cache_dir: Path | None = None,
    check_sources: bool = True,
    metrics: dict[str, Any] | None = None,
    arrays: dict[str, np.ndarray] | None = None,
    results_config: dict[str, Any] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> str:
    """The page of one run (``store.run``, ``dataset``, ``size``). What the evaluate stage
    has not written yet (``metrics``, ``arrays``, ``results_config``) it hands in. What the
    page cannot show (no cache here for the size profile) is said on it and handed to
    ``on_warning``."""
    from canids_data import CacheManager

    cache_dir = CacheManager(cache_dir).cache_dir  # the one cache location rule
    profile, png, manifest, note = graph_profile(cache_dir, dataset, check_sources)
    if note and on_warning is not None:
        on_warning(f"report without the graph-size profile: {note}")
    data = load_run(
        store,
        dataset,
        size,
        metrics=metrics,
        arrays=arrays,
        results_config=results_config,
        manifest=manifest,
    )
    page = HtmlPage(
        f"canids run {data.run}: {dataset} ({size})",
        subtitle=f"held-out splits: {len(data.splits)}",
    )
    _summary(page, data)
    for split, split_data in data.splits.items():
        _split_section(page, split_data, data.metrics.get("audit", {}).get(split))
    _training(page, data)
    profile_section(page, profile, png, note)
    _parameters(page, data)
    commands_section(page, data, cache_dir, store)
    return page.render()


def write_run_report(
    store: ArtifactStore,
    dataset: str,
    size: str,
    *,
    cache_dir: Path | None = None,
    check_sources: bool = True,
    on_warning: Callable[[str], None] | None = None,
) -> Path:
    """Rebuild ``report.html`` of a finished run from its artifacts (atomic write)."""
    text = render_run_report(
        store,
        dataset,
        size,
        cache_dir=cache_dir,
        check_sources=check_sources,
        on_warning=on_warning,
    )
    return store.write_text(dataset, size, "results", "report.html", text)


def run_report_html(
    ctx: StageContext, metrics: dict[str, Any], arrays: dict[str, np.ndarray]
) -> str:
    """The evaluate stage's page, from what it computed (before its files are written)."""
    config = {"stage": "evaluate", "config": ctx.config.to_dict(), "distill_from": ctx.distill_from}
    return render_run_report(
        ctx.store,
        ctx.dataset,
        ctx.size,
        cache_dir=ctx.cache_dir,
        check_sources=ctx.check_sources,
        metrics=metrics,
        arrays=arrays,
        results_config=config,
        on_warning=ctx.log,
    )
