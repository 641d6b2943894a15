"""The run report's figures, drawn with matplotlib's object API on an Agg canvas (no
pyplot: no global backend or figure state of the caller's process is touched) and
returned as PNG bytes.

Histograms draw what each protocol decides on. Frozen: the window's score, with the one
threshold fitted on validation. Calibrated: each capture has its own threshold, so one
line cannot be drawn over windows of several captures; the histogram shows the score
minus its own capture's threshold, and the line at 0 is every capture's threshold.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from .report_data import PROTOCOLS, SplitData

__all__ = [
    "confusion_png",
    "histogram_png",
    "pr_points",
    "roc_points",
    "roc_pr_png",
    "training_png",
]

_MODEL_COLORS = {"vgae": "tab:purple", "gat": "tab:blue"}
_FUSION_COLOR = "tab:green"
_NORMAL, _ATTACK = "tab:blue", "tab:red"


def _figure(width: float, height: float, **margins: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    # Fixed margins, no layout engine: tight or constrained layout measures every text
    # again and took half of a report's drawing time.
    spacing = {"left": 0.06, "right": 0.98, "top": 0.93, "bottom": 0.08, "hspace": 0.42}
    fig.subplots_adjust(**{**spacing, "wspace": 0.25, **margins})
    return fig, FigureCanvasAgg(fig)


def _png(fig: Any, canvas: Any) -> bytes:
    out = io.BytesIO()
    canvas.print_png(out)
    return out.getvalue()


def _color(model: str) -> str:
    return _MODEL_COLORS.get(model, _FUSION_COLOR)


def _counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Cumulative true and false positives at every distinct score, highest first (a
    window is flagged when its score is at or above the cut)."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last]
    fp = last + 1 - tp
    positives = int(y.sum())
    return tp, fp, positives, len(y) - positives


def roc_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(false positive rate, true positive rate) from (0, 0); None when a class is absent."""
    tp, fp, p, n = _counts(np.asarray(y, np.int64), np.asarray(s, np.float64))
    if p == 0 or n == 0:
        return None
    return np.r_[0.0, fp / n], np.r_[0.0, tp / p]


def pr_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(recall, precision) from recall 0; None when there is no attack window."""
    tp, fp, p, _ = _counts(np.asarray(y, np.int64), np.asarray(s, np.float64))
    if p == 0:
        return None
    return np.r_[0.0, tp / p], np.r_[1.0, tp / (tp + fp)]


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def roc_pr_png(data: SplitData) -> bytes:
    """ROC and precision-recall curves of every model, one row per protocol, over the
    windows that protocol scores; the AUROC and AUPRC in the legend are metrics.json's."""
    fig, canvas = _figure(10, 7.6, top=0.95, hspace=0.32, left=0.07)
    for i, protocol in enumerate(PROTOCOLS):
        mask = data.scored[protocol]
        roc_ax, pr_ax = fig.add_subplot(2, 2, 2 * i + 1), fig.add_subplot(2, 2, 2 * i + 2)
        y = data.y[mask]
        for model in data.models:
            row = data.row(protocol, model)
            s = data.score[protocol, model][mask]
            roc, pr = roc_points(y, s), pr_points(y, s)
            if roc is not None:
                roc_ax.plot(
                    *roc, color=_color(model), label=f"{model} (AUROC {_fmt(row['auroc'])})"
                )
            if pr is not None:
                pr_ax.step(
                    *pr,
                    where="post",
                    color=_color(model),
                    label=f"{model} (AUPRC {_fmt(row['auprc'])})",
                )
        n_att = int(y.sum())
        for ax, what in ((roc_ax, "ROC"), (pr_ax, "precision-recall")):
            ax.set_title(f"{what}, {protocol} ({len(y)} windows, {n_att} attacks)", fontsize=10)
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.02, 1.02)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="lower right" if ax is roc_ax else "lower left", fontsize=8)
            else:
                why = "no attack window" if n_att == 0 else "no normal window"
                ax.text(0.5, 0.5, f"undefined: {why}", ha="center", va="center", fontsize=11)
        roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        roc_ax.set_xlabel("false positive rate")
        roc_ax.set_ylabel("true positive rate")
        pr_ax.set_xlabel("recall")
        pr_ax.set_ylabel("precision")
        if len(y):
            pr_ax.axhline(n_att / len(y), color="grey", linestyle=":", linewidth=1)
    return _png(fig, canvas)


def _decision_values(
    data: SplitData, protocol: str, model: str
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """What the histogram draws for the scored windows, their labels, where the line goes,
    and how many windows are left out (an infinite calibrated threshold flags nothing)."""
    mask = data.scored[protocol]
    score, y = data.score[protocol, model][mask], data.y[mask]
    if protocol == "frozen":
        thr = data.threshold[protocol, model][mask]
        return score, y, float(thr[0]) if len(thr) else 0.0, 0
    margin = score - data.threshold[protocol, model][mask]
    finite = np.isfinite(margin)
    return margin[finite], y[finite], 0.0, int((~finite).sum())


def histogram_png(data: SplitData) -> bytes:
    """Per protocol (rows) and model (columns): the share of normal and of attack windows
    per score bin, the threshold as a line, and how many of each class were flagged."""
    fig, canvas = _figure(13.5, 7.6, top=0.91, hspace=0.55, left=0.05, bottom=0.07)
    cols = len(data.models)
    for i, protocol in enumerate(PROTOCOLS):
        y = data.y[data.scored[protocol]]
        for j, model in enumerate(data.models):
            ax = fig.add_subplot(2, cols, i * cols + j + 1)
            values, labels, line, left_out = _decision_values(data, protocol, model)
            _class_histograms(ax, values, labels, line)
            flags = data.flag[protocol, model][data.scored[protocol]]
            normal, attack = y == 0, y == 1
            flagged = (
                f"flagged {int(flags[normal].sum())}/{int(normal.sum())} normal, "
                f"{int(flags[attack].sum())}/{int(attack.sum())} attack"
            )
            if left_out:
                flagged += f"; {left_out} with an infinite threshold not drawn"
            if protocol == "frozen":
                ax.set_title(f"{model}, frozen (threshold {line:.3g})\n{flagged}", fontsize=9)
                ax.set_xlabel("score")
            else:
                ax.set_title(f"{model}, calibrated\n{flagged}", fontsize=9)
                ax.set_xlabel("score minus its capture's threshold")
            ax.set_ylabel("share of the class's windows")
    return _png(fig, canvas)


def _class_histograms(ax: Any, values: np.ndarray, y: np.ndarray, line: float) -> None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        ax.text(0.5, 0.5, "no scored window", ha="center", va="center")
        return
    lo, hi = np.percentile(finite, [0.5, 99.5])
    lo, hi = min(lo, line), max(hi, line)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.04 * (hi - lo)
    bins = np.linspace(lo - pad, hi + pad, 41)
    # Values past the axis go into the edge bins, so every window is counted.
    clipped = np.clip(values, bins[0], bins[-1])
    for label, color, name in ((0, _NORMAL, "normal"), (1, _ATTACK, "attack")):
        part = clipped[y == label]
        if part.size:
            share = np.histogram(part, bins=bins)[0] / part.size
            ax.stairs(
                share, bins, fill=True, color=color, alpha=0.45, label=f"{name} ({part.size})"
            )
    ax.axvline(line, color="black", linestyle="--", linewidth=1.2, label="threshold")
    ax.legend(loc="upper right", fontsize=7.5)


def confusion_png(data: SplitData) -> bytes:
    """The confusion matrix of every model under each protocol (metrics.json's counts)."""
    fig, canvas = _figure(10, 5.6, left=0.08, wspace=0.35, hspace=0.35)
    cols = len(data.models)
    for i, protocol in enumerate(PROTOCOLS):
        for j, model in enumerate(data.models):
            c = data.row(protocol, model)["confusion"]
            grid = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]], dtype=float)
            ax = fig.add_subplot(2, cols, i * cols + j + 1)
            ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(grid.max(), 1))
            for (r, k), value in np.ndenumerate(grid):
                dark = value > grid.max() / 2
                ax.text(
                    k,
                    r,
                    f"{int(value):,}",
                    ha="center",
                    va="center",
                    color="white" if dark else "black",
                )
            ax.set_xticks([0, 1], ["flagged normal", "flagged attack"], fontsize=8)
            ax.set_yticks([0, 1], ["normal", "attack"], fontsize=8)
            ax.set_title(f"{model}, {protocol}", fontsize=9.5)
    return _png(fig, canvas)


def training_png(stages: dict[str, dict[str, Any]]) -> bytes:
    """Epoch histories of the VGAE and the GAT, and the DQN's loss and reward by step."""
    fig, canvas = _figure(14, 4.2, right=0.95, wspace=0.32, bottom=0.14, top=0.9)
    vgae = stages.get("vgae", {}).get("metrics", {}).get("history", [])
    gat = stages.get("gat", {}).get("metrics", {}).get("history", [])
    dqn = stages.get("fusion", {}).get("metrics", {}).get("dqn_history", [])
    ax = fig.add_subplot(1, 3, 1)
    _epochs(ax, vgae, ("train_loss", "val_loss"), "VGAE loss")
    ax = fig.add_subplot(1, 3, 2)
    _epochs(ax, gat, ("train_loss", "val_loss"), "GAT loss and validation F1")
    if gat:
        twin = ax.twinx()
        twin.plot(
            [r["epoch"] for r in gat],
            [r.get("val_f1") for r in gat],
            color="tab:green",
            marker="o",
            label="val_f1",
        )
        twin.set_ylabel("validation F1")
        twin.set_ylim(-0.02, 1.02)
        twin.legend(loc="center right", fontsize=8)
    ax = fig.add_subplot(1, 3, 3)
    if dqn:
        steps = [r["step"] for r in dqn]
        ax.plot(steps, [r.get("loss") for r in dqn], color="tab:orange", label="loss")
        ax.plot(steps, [r.get("reward") for r in dqn], color="tab:cyan", label="reward")
        ax.set_xlabel("DQN step")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no DQN history", ha="center", va="center")
    ax.set_title("fusion DQN", fontsize=10)
    return _png(fig, canvas)


def _epochs(ax: Any, history: Sequence[dict[str, Any]], keys: Sequence[str], title: str) -> None:
    ax.set_title(title, fontsize=10)
    if not history:
        ax.text(0.5, 0.5, "no epoch history", ha="center", va="center")
        return
    epochs = [r["epoch"] for r in history]
    for key in keys:
        ax.plot(epochs, [r.get(key) for r in history], marker="o", label=key)
    best = history[-1].get("best_epoch")
    if best is not None and best >= 0:
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
