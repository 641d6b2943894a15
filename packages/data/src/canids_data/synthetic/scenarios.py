"""The embedded ``demo`` dataset: synthetic captures in the can-train-and-test layout.

Seven split folders, ten captures of 22-26 s (times ``scale``), about 350k messages at
``scale=1``: small enough to train the whole GNN pipeline on two CPU cores in
minutes, varied enough to exercise every split kind (known/unknown vehicle x
known/unknown attack).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canids_data.synthetic.attacks import Attack, DoS, Fuzzing, Replay, Spoofing, Suspension
from canids_data.synthetic.capture import generate_capture
from canids_data.synthetic.vehicle import VehicleKind, make_vehicle
from canids_data.writers import FORMAT_EXTENSIONS, FORMATS, write_capture

__all__ = ["DEMO_SPLITS", "DemoCapture", "demo_plan", "write_demo_dataset"]

DEMO_SPLITS: tuple[str, ...] = (
    "train_01_attack_free",
    "train_02_with_attacks",
    "test_01_known_vehicle_known_attack",
    "test_02_unknown_vehicle_known_attack",
    "test_03_known_vehicle_unknown_attack",
    "test_04_unknown_vehicle_unknown_attack",
    "test_05_shifted_vehicle_known_attack",
)
# Formats that keep the per-message label: the demo is useless without it.
_LABELLED_FORMATS = ("hcrl_ch", "hcrl_sa", "cantt", "parquet")


@dataclass(frozen=True)
class DemoCapture:
    """One file of the demo: where it goes, which vehicle, how long, which attacks."""

    split: str
    name: str
    vehicle: VehicleKind
    duration_s: float
    attacks: tuple[Attack, ...] = ()


def _known_attacks(s: float) -> tuple[Attack, ...]:
    # The first 6 s are clean, as a real drive is before anyone attacks the car: the
    # calibrated protocol calibrates on that start.
    return (DoS(6 * s, 4 * s), Fuzzing(12 * s, 4 * s), Spoofing(18 * s, 4 * s))


def _unknown_attacks(s: float) -> tuple[Attack, ...]:
    # The replay re-sends seconds 3-7 at 10-14, well clear of the suspension window.
    return (Replay(10 * s, 4 * s, source_start_s=3 * s), Suspension(17 * s, 4 * s))


def demo_plan(scale: float = 1.0) -> tuple[DemoCapture, ...]:
    """The demo's captures in writing order; ``scale`` multiplies every duration and
    attack time (``scale=0.1`` gives a quick ~35k-message version for tests)."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    s = scale
    train01, train02, test01, test02, test03, test04, test05 = DEMO_SPLITS
    return (
        DemoCapture(train01, "attack-free-1", "known", 24 * s),
        DemoCapture(train01, "attack-free-2", "known", 24 * s),
        # One attack kind per file, clean traffic around each burst. The second burst
        # sits in the last 15 % of the capture: validation is carved from that tail, and
        # thresholds fitted there need attacks to see.
        DemoCapture(train02, "dos-1", "known", 22 * s, (DoS(6 * s, 4 * s), DoS(19 * s, 2 * s))),
        DemoCapture(
            train02, "fuzzing-1", "known", 22 * s, (Fuzzing(6 * s, 4 * s), Fuzzing(19 * s, 2 * s))
        ),
        DemoCapture(
            train02,
            "spoofing-1",
            "known",
            22 * s,
            (Spoofing(6 * s, 4 * s), Spoofing(19 * s, 2 * s)),
        ),
        DemoCapture(test01, "dos-fuzzing-spoofing-1", "known", 24 * s, _known_attacks(s)),
        DemoCapture(test02, "dos-fuzzing-spoofing-1", "unknown", 24 * s, _known_attacks(s)),
        DemoCapture(test03, "replay-suspension-1", "known", 24 * s, _unknown_attacks(s)),
        DemoCapture(test04, "replay-suspension-1", "unknown", 24 * s, _unknown_attacks(s)),
        # A vehicle of another maker (no shared ID, other periods): a threshold frozen on
        # the known vehicle has nothing to hold on to; the clean start (the first 8 s are
        # attack-free) is what calibration works from. Short bursts keep the attack share
        # near a real capture's (about a quarter of the windows).
        DemoCapture(
            test05,
            "dos-fuzzing-spoofing-1",
            "shifted",
            24 * s,
            (DoS(8 * s, 2 * s), Fuzzing(14 * s, 2 * s), Spoofing(20 * s, 2 * s)),
        ),
    )


def write_demo_dataset(
    root: str | os.PathLike[str],
    *,
    seed: int = 0,
    fmt: str = "parquet",
    scale: float = 1.0,
) -> list[Path]:
    """Write the ``demo`` dataset under ``root`` (``root/<split>/<capture>.<ext>``) and
    return the written paths in :func:`demo_plan` order.

    Both vehicles come from ``seed``; each capture gets its own seed derived from
    ``seed`` and its position, so the same arguments give byte-identical files. Each
    file is written atomically. ``fmt`` must be a labelled format
    (``hcrl_ch``, ``hcrl_sa``, ``cantt`` or ``parquet``).
    """
    if fmt not in _LABELLED_FORMATS:
        kind = "drops the labels" if fmt in FORMATS else "is not a known format"
        raise ValueError(
            f"write_demo_dataset: format {fmt!r} {kind}; use one of {', '.join(_LABELLED_FORMATS)}"
        )
    root = Path(root)
    vehicles = {kind: make_vehicle(kind, seed) for kind in ("known", "unknown", "shifted")}
    written = []
    for index, capture in enumerate(demo_plan(scale)):
        capture_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        table = generate_capture(
            vehicles[capture.vehicle],
            capture.duration_s,
            attacks=capture.attacks,
            seed=capture_seed,
        )
        path = root / capture.split / f"{capture.name}{FORMAT_EXTENSIONS[fmt]}"
        written.append(write_capture(table, path, fmt))
    return written
