"""The fitted fusion: what the fusion stage saves and the evaluate stage applies to both
protocols' inputs (:mod:`canids_models.fusion_inputs`).

Inputs are normalised scores. ``frozen``: one normaliser per detector, fitted on the normal
validation windows. ``calibrated``: each capture's own clean start normalises it
(:func:`calibrated_inputs`). Every fusion method maps (z_gat, z_vgae, state) to one score;
the DQN sees the normalised scores in its state and mixes ``sigmoid(z - c)`` of both, where
``c`` puts 0.5 at each detector's own validation threshold. ``either`` fuses decisions, not
scores: a window is flagged where either detector flags it at its own threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .calibration import CalibrationRule
from .config import CUT_UNITS_AT, GUARD_FLOORS
from .fusion_agent import FusionPolicy
from .fusion_inputs import FusedScores, calibrated_inputs, dqn_state, frozen_scored, sigmoid
from .fusion_methods import (
    CAPTURE_UNIT_QUANTILE,
    CUT_FUSIONS,
    EACH_GUARDED,
    EITHER,
    FUSION_METHODS,
    Normaliser,
    capture_cut_units,
    capture_scale_units,
    simple_fusion,
)
from .metrics import Threshold
from .nn import QNetwork
from .scoring import SplitScores

__all__ = ["FusionModel"]


@dataclass
class FusionModel:
    """Everything fusion learnt on validation."""

    normalisers: dict[str, Normaliser]  # "gat", "vgae": frozen normalisation
    method: str  # the default: the winner on validation, or the configured one
    thresholds: dict[str, Threshold]  # frozen threshold of each scorer (z units)
    calibration: dict[str, CalibrationRule]  # calibration rule of each scorer
    seconds: float  # the one calibration length of the run
    warmup: float = 0.0  # and its warm-up before it
    logistic: np.ndarray | None = None
    policy: FusionPolicy | None = None
    dqn_centers: tuple[float, float] = (0.0, 0.0)  # c_gat, c_vgae (z units)
    scale_floors: tuple[float, float] = (1e-6, 1e-6)
    selection: dict[str, Any] = field(default_factory=dict)
    frozen_warmup: float = 0.0  # seconds at each capture's start the frozen protocol skips
    # Where a guarded calibration rule's floor lies: "threshold" (the frozen cut, canids-
    # models 0.7.0-0.14.x) or "edge" (the highest validation score that cut leaves
    # unflagged; calibration.guard_at).
    guard_at: str = "threshold"
    # Each detector's unit (σ) for the cut fusions: its frozen F1 cut, floored; None where
    # they were not fitted (fusion.cut_fusions=false, or saved before canids-models 0.16.0).
    cut_units: tuple[float, float] | None = None
    # Under the calibrated protocol, the cut fusions' units: the frozen cuts ("validation"),
    # at least each capture's own quantile of its calibration windows ("capture", canids-
    # models 0.24.0) or the frozen cuts in each capture's own scale ("capture_scale",
    # 0.29.0); fusion.cut_units_at.
    cut_units_at: str = "validation"

    def guard_flags(
        self, method: str, frozen_scores: np.ndarray, frozen: FusedScores | None = None
    ) -> np.ndarray:
        """Where a guarded calibration rule of ``method`` may flag: its frozen score above
        the frozen cut, or above validation's edge below that cut (``guard_at``). With
        ``guard_at="each"`` a fusion in which either detector flags alone
        (:data:`EACH_GUARDED`) may flag where either detector's frozen score (``frozen``,
        the frozen inputs) is above that detector's own edge: the fused edge is the edge of
        whichever detector's normal tail reaches furthest, which on validation may be a
        classifier's alone, and would hold back every window only the other one sees."""
        threshold = self.thresholds[method]
        if self.guard_at == "each" and method in EACH_GUARDED:
            if frozen is None:
                raise ValueError(f"guard_at=each guards {method} by each detector: pass its inputs")
            return self.thresholds["gat"].above_edge(frozen.z_gat) | self.thresholds[
                "vgae"
            ].above_edge(frozen.z_vgae)
        if self.guard_at in ("edge", "each"):
            return threshold.above_edge(frozen_scores)
        return threshold.apply(frozen_scores)

    def frozen_inputs(self, scores: SplitScores) -> FusedScores:
        return FusedScores(
            self.normalisers["gat"](scores.gat),
            self.normalisers["vgae"](scores.vgae),
            scores.state,
            frozen_scored(scores, self.frozen_warmup),
        )

    def calibrated_inputs(self, scores: SplitScores) -> FusedScores:
        return calibrated_inputs(scores, self.warmup, self.seconds, self.scale_floors)

    def alphas(self, inputs: FusedScores) -> np.ndarray:
        if self.policy is None:
            raise ValueError("this fusion has no DQN policy")
        return self.policy.alphas(dqn_state(inputs.state, inputs.z_gat, inputs.z_vgae))

    def fuse(self, method: str, inputs: FusedScores) -> np.ndarray:
        """The fused score of ``method`` (``gat`` and ``vgae`` give the input alone)."""
        if method == "gat":
            return inputs.z_gat
        if method == "vgae":
            return inputs.z_vgae
        if method == EITHER:
            # How far the nearer detector is past its own frozen threshold: >= 0 where either
            # flags the window, so its threshold of 0 is the OR of their decisions.
            margin_g = inputs.z_gat - self.thresholds["gat"].value
            return np.maximum(margin_g, inputs.z_vgae - self.thresholds["vgae"].value)
        if method == "dqn":
            alpha = self.alphas(inputs)
            u_g = sigmoid(inputs.z_gat - self.dqn_centers[0])
            u_v = sigmoid(inputs.z_vgae - self.dqn_centers[1])
            return alpha * u_g + (1 - alpha) * u_v
        units: tuple[float, float] | tuple[np.ndarray, np.ndarray] | None = self.cut_units
        if (
            method in CUT_FUSIONS
            and self.cut_units_at == "capture"
            and self.cut_units is not None
            and inputs.capture_quantiles is not None
        ):
            units = capture_cut_units(self.cut_units, inputs.capture_quantiles)
        if (
            method in CUT_FUSIONS
            and self.cut_units_at == "capture_scale"
            and self.cut_units is not None
            and inputs.capture_norms is not None
        ):
            detectors = (self.normalisers["gat"], self.normalisers["vgae"])
            units = capture_scale_units(self.cut_units, detectors, inputs.capture_norms)
        return simple_fusion(method, inputs.z_gat, inputs.z_vgae, self.logistic, units)

    @property
    def methods(self) -> tuple[str, ...]:
        """Every fusion this model can apply, in the order ties are broken (``either`` and
        the cut fusions where they were fitted: a model saved before canids-models 0.8.0
        has no ``either``, one saved before 0.16.0 no cut fusion)."""
        fitted = tuple(m for m in FUSION_METHODS if m != "dqn" or self.policy is not None)
        cut = CUT_FUSIONS if self.cut_units is not None else ()
        return fitted + cut + ((EITHER,) if EITHER in self.thresholds else ())

    @property
    def chosen_by(self) -> str:
        """How the default fusion was chosen, in words (reports and tables say it)."""
        selection = self.selection
        if selection.get("configured", "auto") != "auto":
            return "set by fusion.method"
        teacher = selection.get("teacher")  # absent before canids-models 0.26.0
        if teacher:
            return (
                f"the {teacher['teacher']}'s deployed fusion ({teacher['chosen_by']} there); "
                f"validation alone chose {selection['validation_choice']}"
            )
        # ``rule`` is what ``select`` resolved to (0.17.0's auto); older metrics lack it.
        if selection.get("rule", selection.get("select")) == "families":
            margin = selection.get("families_margin")  # absent before canids-models 0.12.0
            ties = f", means within {margin:g} tie" if margin else ""
            return (
                f"chosen on the held-out attack families of the training captures{ties}; "
                f"validation alone chose {selection['validation_choice']}"
            )
        if selection.get("select") == "auto":
            return f"chosen on validation ({selection['rule_reason']})"
        return "chosen on validation"

    def calibration_label(self, method: str) -> str:
        """How ``method``'s calibrated decisions are made, in words."""
        # guard_at=each guards only max and cut_max by each detector; the rest at the edge.
        at = "edge" if self.guard_at == "each" and method not in EACH_GUARDED else self.guard_at
        if method == EITHER:
            return (
                f"either detector's own: gat {self.calibration['gat'].label(at)}, vgae "
                f"{self.calibration['vgae'].label(at)}"
            )
        label = self.calibration[method].label(at)
        if method in CUT_FUSIONS and self.cut_units_at == "capture":
            label += f", units at least the capture's {CAPTURE_UNIT_QUANTILE:g} quantile"
        if method in CUT_FUSIONS and self.cut_units_at == "capture_scale":
            label += ", units the frozen cuts in the capture's own scale"
        return label

    # --------------------------------------------------------------- checkpoint
    def to_checkpoint(self) -> dict[str, Any]:
        ckpt: dict[str, Any] = {
            "kind": "fusion",
            "normalisers": {k: v.to_json() for k, v in self.normalisers.items()},
            "method": self.method,
            "thresholds": {k: t.to_json() for k, t in self.thresholds.items()},
            "calibration": {k: r.to_json() for k, r in self.calibration.items()},
            "seconds": self.seconds,
            "warmup": self.warmup,
            "dqn_centers": list(self.dqn_centers),
            "scale_floors": list(self.scale_floors),
            "selection": self.selection,
            "frozen_warmup": self.frozen_warmup,
            "guard_at": self.guard_at,
        }
        if self.cut_units is not None:
            ckpt["cut_units"] = list(self.cut_units)
        if self.cut_units_at != "validation":  # a default checkpoint stays 0.23.0's
            ckpt["cut_units_at"] = self.cut_units_at
        if self.logistic is not None:
            ckpt["logistic"] = torch.from_numpy(self.logistic)
        if self.policy is not None:
            ckpt["qnet"] = {k: v.cpu() for k, v in self.policy.qnet.state_dict().items()}
            ckpt["state_dim"] = int(self.policy.mean.shape[0])
            ckpt["hidden"] = int(self.policy.qnet.net[0].out_features)  # type: ignore[index]
            ckpt["state_mean"] = torch.from_numpy(self.policy.mean)
            ckpt["state_std"] = torch.from_numpy(self.policy.std)
        return ckpt

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any]) -> FusionModel:
        policy = None
        if "qnet" in ckpt:
            qnet = QNetwork(int(ckpt["state_dim"]), int(ckpt["hidden"]))
            qnet.load_state_dict(ckpt["qnet"])
            qnet.eval()
            policy = FusionPolicy(qnet, ckpt["state_mean"].numpy(), ckpt["state_std"].numpy())
        return cls(
            normalisers={k: Normaliser.from_json(v) for k, v in ckpt["normalisers"].items()},
            method=str(ckpt["method"]),
            thresholds={k: Threshold.from_json(v) for k, v in ckpt["thresholds"].items()},
            calibration={k: CalibrationRule.from_json(v) for k, v in ckpt["calibration"].items()},
            seconds=float(ckpt["seconds"]),
            warmup=float(ckpt.get("warmup", 0.0)),
            logistic=ckpt["logistic"].numpy() if "logistic" in ckpt else None,
            policy=policy,
            dqn_centers=tuple(float(c) for c in ckpt["dqn_centers"]),  # type: ignore[arg-type]
            scale_floors=tuple(float(c) for c in ckpt["scale_floors"]),  # type: ignore[arg-type]
            selection=dict(ckpt.get("selection", {})),
            frozen_warmup=float(ckpt.get("frozen_warmup", 0.0)),
            guard_at=_guard_at(ckpt.get("guard_at", "threshold")),  # before 0.15.0: none
            cut_units=(
                (float(ckpt["cut_units"][0]), float(ckpt["cut_units"][1]))
                if "cut_units" in ckpt
                else None
            ),
            cut_units_at=_checked(
                ckpt.get("cut_units_at", "validation"), CUT_UNITS_AT, "cut_units_at"
            ),
        )


def _guard_at(value: Any) -> str:
    """A checkpoint's guard floor, checked: an unknown one would silently guard at the cut."""
    return _checked(value, GUARD_FLOORS, "guard_at")


def _checked(value: Any, known: tuple[str, ...], key: str) -> str:
    """A checkpoint's setting among ``known``, checked: an unknown one would silently run as
    the default."""
    if value not in known:
        raise ValueError(
            f"fusion checkpoint: {key}={value!r} is not one of {known} (written by "
            "a newer canids-models, or damaged)"
        )
    return str(value)
