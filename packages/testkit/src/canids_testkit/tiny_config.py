"""The one tiny model config every test trains with: the pipeline, not the detector, is
under test, so each stage finishes in seconds on the demo captures.

Every test that trains passes these ``--set`` items (or the same list to
``canids_models.load_config``); a test that needs something smaller or longer appends its
own items, which win because later ``--set`` items override earlier ones.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["TINY_SIZES", "set_args", "tiny_overrides"]

_COMMON: tuple[str, ...] = (
    "train.epochs=2",
    "train.threads=1",
    "train.device=cpu",
    "gat.layers=1",
    "vgae.layers=1",
    "dqn.steps=50",
    "dqn.batch_size=64",
    "dqn.buffer=2048",
    "dqn.target_sync=10",
    # The demo captures last 2.2-2.4 s: their clean starts are about 0.4 s long, so the
    # default calibration lengths (1-10 s) would find no clean window to calibrate on.
    "calibration.seconds_grid=[0.2,0.4]",
    "calibration.warmup_grid=[0,0.1]",
    # The default frozen warm-up (2 s) would leave about 3 of the demo's 52 validation
    # windows: the tests score every window, and test_frozen_warmup.py sets one.
    "eval.frozen_warmup=0",
    # The default fusion.select=auto holds each of the demo's three attack families out of
    # a training of both detectors inside the fusion stage (four trainings, not one): the
    # tests of that rule (test_families.py) set it themselves.
    "fusion.select=validation",
)

_BY_SIZE: dict[str, tuple[str, ...]] = {
    "teacher": (
        "gat.heads=2",
        "gat.hidden=8",
        "gat.mlp_hidden=16",
        "gat.embed_dim=4",
        "vgae.heads=2",
        "vgae.hidden=8",
        "vgae.latent=4",
        "vgae.embed_dim=4",
        "dqn.hidden=16",
        "curriculum.ramp_epochs=2",
    ),
    "student": (
        "gat.heads=1",
        "gat.hidden=4",
        "gat.mlp_hidden=8",
        "gat.embed_dim=2",
        "vgae.heads=1",
        "vgae.hidden=4",
        "vgae.latent=2",
        "vgae.embed_dim=2",
        "dqn.hidden=8",
    ),
}

TINY_SIZES: tuple[str, ...] = tuple(_BY_SIZE)


def tiny_overrides(size: str = "teacher", *extra: str) -> list[str]:
    """The ``--set`` items of the tiny config for ``size``, then ``extra`` (which win)."""
    if size not in _BY_SIZE:
        raise ValueError(f"no tiny config for size {size!r}: use one of {', '.join(TINY_SIZES)}")
    return [*_COMMON, *_BY_SIZE[size], *extra]


def set_args(items: Iterable[str]) -> list[str]:
    """``["--set", item, ...]`` for a command line."""
    return [arg for item in items for arg in ("--set", item)]
