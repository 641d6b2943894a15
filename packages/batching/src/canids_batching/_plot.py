"""PNG histograms of a size profile (needs the ``[plot]`` extra: matplotlib)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from canids_batching._extras import require
from canids_batching._io import atomic_write_bytes
from canids_batching.profile import Histogram, Profile, profile_dataset

__all__ = ["plot_profile"]


def plot_profile(profile_or_sizes: Profile | Any, path: str | os.PathLike[str]) -> Path:
    """Draw node and edge count histograms, with mean and p95 marked, to a PNG at ``path``.

    Takes a :class:`Profile` (its stored histograms are drawn) or anything
    :func:`profile_dataset` takes. Raises ImportError naming the ``[plot]`` extra when
    matplotlib is missing.
    """
    require("matplotlib", "plot_profile")
    # The object-oriented API with an explicit Agg canvas: no pyplot, so no global
    # backend or figure state of the caller's process is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    profile = (
        profile_or_sizes
        if isinstance(profile_or_sizes, Profile)
        else profile_dataset(profile_or_sizes)
    )
    fig = Figure(figsize=(10, 4), dpi=100)
    canvas = FigureCanvasAgg(fig)
    panels = (
        ("nodes", profile.nodes_hist, profile.nodes),
        ("edges", profile.edges_hist, profile.edges),
    )
    for i, (what, hist, stats) in enumerate(panels):
        ax = fig.add_subplot(1, 2, i + 1)
        _bars(ax, hist)
        ax.axvline(stats.mean, color="black", linestyle="-", label=f"mean {stats.mean:.1f}")
        ax.axvline(stats.p95, color="tab:red", linestyle="--", label=f"p95 {stats.p95:.1f}")
        ax.set_xlabel(f"{what} per graph (CV {stats.cv:.2f})")
        ax.set_ylabel("graphs")
        ax.legend(loc="upper right", fontsize="small")
    rec = profile.recommendation
    title = f"{profile.name or 'dataset'}: {profile.nodes.count} graphs; "
    title += f"{rec.strategy} {rec.key}={rec.value}"
    fig.suptitle(title)
    fig.tight_layout()
    buf = _png(canvas)
    return atomic_write_bytes(path, buf)


def _bars(ax: Any, hist: Histogram) -> None:
    edges = np.asarray(hist.edges)
    ax.bar(edges[:-1], hist.counts, width=np.diff(edges), align="edge", color="tab:blue")


def _png(canvas: Any) -> bytes:
    out = io.BytesIO()
    canvas.print_png(out)
    return out.getvalue()
