"""Both detectors' scores over one split, with what each protocol needs besides them: the
capture each window belongs to, when the window ended, where its capture started.

Raw scores: the GAT's logit and the log of the VGAE's Mahalanobis distance. Labels ride
along for metrics; the calibration code never receives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from canids_data import CachedGraphDataset

from .calibration_select import CaptureStream
from .config import BatchingConfig
from .context import BatchTracker
from .fusion_methods import vgae_raw
from .outputs import collect_outputs, fusion_state

__all__ = ["SplitScores", "score_split"]


@dataclass(frozen=True)
class SplitScores:
    """Per window of one split (dataset order)."""

    split: str
    gat: np.ndarray  # logit
    vgae: np.ndarray  # log Mahalanobis distance
    state: np.ndarray  # the DQN's state without the normalised scores [n, 15]
    y: np.ndarray
    source: np.ndarray  # capture index (manifest sources)
    window_start: np.ndarray
    window_end: np.ndarray
    capture_start: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def captures(self) -> list[np.ndarray]:
        """Each capture's window indices, in time order."""
        out = []
        for c in np.unique(self.source):
            idx = np.flatnonzero(self.source == c)
            out.append(idx[np.argsort(self.window_end[idx], kind="stable")])
        return out

    def streams(
        self,
        scores: np.ndarray,
        *,
        with_labels: bool,
        frozen_flags: np.ndarray | None = None,
        clean_calibration: bool = False,
        score_after: float | None = None,
    ) -> list[CaptureStream]:
        """One :class:`CaptureStream` per capture of ``scores`` (labels only for validation,
        where they judge a rule; test streams never carry them), with each window's frozen
        flag where given (a guarded rule needs it). ``clean_calibration`` and
        ``score_after`` simulate a clean calibration on validation (see
        :class:`CaptureStream`)."""
        return [
            CaptureStream(
                scores[idx],
                self.window_end[idx],
                float(self.capture_start[idx[0]]),
                self.y[idx] if with_labels else None,
                None if frozen_flags is None else frozen_flags[idx],
                clean_calibration,
                score_after,
            )
            for idx in self.captures()
        ]

    def hours(self, mask: np.ndarray | None = None) -> float:
        """Hours of traffic the windows in ``mask`` cover: per capture, from the first
        window's start to the last one's end."""
        keep = np.ones(len(self), bool) if mask is None else mask
        total = 0.0
        for c in np.unique(self.source[keep]):
            m = keep & (self.source == c)
            total += float(self.window_end[m].max() - self.window_start[m].min())
        return total / 3600.0


@torch.no_grad()
def score_split(
    ds: CachedGraphDataset,
    split: str,
    gat: torch.nn.Module,
    vgae: torch.nn.Module,
    batching: BatchingConfig,
    device: torch.device,
    *,
    track: Callable[[int], BatchTracker] | None = None,
) -> SplitScores:
    out = collect_outputs(gat, vgae, ds, batching, device, track=track)
    start, end = ds.window_times()
    return SplitScores(
        split=split,
        gat=out["gat_logit"].astype(np.float64),
        vgae=vgae_raw(out["vgae_score"]),
        state=fusion_state(out),
        y=out["y"],
        source=ds.sources().astype(np.int64),
        window_start=np.asarray(start, np.float64),
        window_end=np.asarray(end, np.float64),
        capture_start=ds.capture_starts(),
    )
