"""Shared fixtures of the canids-models tests.

``demo`` is a tiny synthetic cache (``scale=0.1``: 150 training graphs; built once per
session, read-only).
``tiny_overrides(size)`` gives ``--set`` items for models small enough to train in well
under a second per epoch on two shared cores, on the CPU (where runs are bit-for-bit
reproducible; ``test_gpu.py`` covers CUDA). ``pipelines`` runs the teacher and the
distilled student pipeline once per session into a session runs dir that tests only read.
A test that changes artifacts copies them into its own store (``copy_artifacts``).

These tests call the library's own entry point, ``run_stage(stage, StageContext(...))``,
directly (``run_demo_stage``): they test canids-models, not the command line. What
``canids-train`` adds (options, preflight before any write, the result line, exit codes)
is tested on the real command in ``apps/canids-cli/tests`` and the root ``tests/``.
``cut_max_capture`` builds one capture's detector scores and calibrates ``cut_max`` on
it under a ``fusion.cut_units_at`` value (the capture-unit tests).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from canids_data import BuildConfig, CachedGraphDataset, CacheManager
from canids_data.synthetic import write_demo_dataset
from canids_models import ArtifactStore, StageContext, StageOutcome, load_config
from canids_models.calibration import MAD_TO_SIGMA, CalibrationRule
from canids_models.calibration_select import calibrate_stream
from canids_models.fusion_methods import Normaliser
from canids_models.fusion_model import FusionModel
from canids_models.scoring import SplitScores
from canids_models.stages import run_stage
from canids_testkit import tiny_overrides as tiny

DATASET = "demo"
DEMO_SCALE = 0.1

# The stages of each pipeline as the tests run them: (stage, distil from, extra --set).
TEACHER_STAGES: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("vgae", None, ()),
    ("gat_curriculum", None, ("train.epochs=3",)),
    ("fusion", None, ()),
    ("evaluate", None, ()),
)
STUDENT_STAGES: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("vgae", "teacher", ()),
    ("gat", "teacher", ()),
    ("fusion", None, ()),
    ("evaluate", None, ()),
)


@pytest.fixture(scope="session")
def tiny_overrides() -> Callable[..., list[str]]:
    """``canids_testkit.tiny_overrides``: the one tiny config every canids test trains with."""
    return tiny


@dataclass(frozen=True)
class Demo:
    """A built demo cache (``cache_dir/demo``) and the captures it was built from."""

    cache_dir: Path
    root: Path

    def split(self, name: str) -> CachedGraphDataset:
        return CachedGraphDataset(self.cache_dir, DATASET, name)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo captures at ``scale=0.1`` and their cache (default build config). Read-only."""
    base = tmp_path_factory.mktemp("models_demo")
    write_demo_dataset(base / "root", seed=0, scale=DEMO_SCALE)
    CacheManager(base / "cache").build(DATASET, base / "root", BuildConfig(), workers=1)
    return Demo(base / "cache", base / "root")


@pytest.fixture(scope="session")
def train_split(demo: Demo) -> CachedGraphDataset:
    return demo.split("train")


@pytest.fixture(scope="session")
def model_inputs(train_split: CachedGraphDataset) -> dict[str, int]:
    return {
        "num_ids": len(train_split.vocabulary),
        "node_dim": train_split.num_node_features,
        "edge_dim": train_split.num_edge_features,
    }


@pytest.fixture(scope="session")
def batch(train_split: CachedGraphDataset):
    """A fixed batch of 12 training graphs, attacks and normal ones."""
    y = train_split.labels()
    idx = np.sort(np.concatenate((np.flatnonzero(y == 0)[:6], np.flatnonzero(y == 1)[:6])))
    return train_split.collate(idx)


def make_context(
    demo: Demo,
    store: ArtifactStore,
    size: str,
    overrides: list[str] | tuple[str, ...],
    *,
    distill_from: str | None = None,
    log: list[str] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> StageContext:
    lines = log if log is not None else []
    return StageContext(
        DATASET,
        size,
        load_config(size, None, list(overrides)),
        store,
        demo.cache_dir,
        distill_from,
        log=lines.append,
        on_epoch=on_epoch,
    )


def run_demo_stage(
    demo: Demo,
    store: ArtifactStore,
    stage: str,
    size: str,
    overrides: list[str] | tuple[str, ...],
    *,
    distill_from: str | None = None,
    log: list[str] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> StageOutcome:
    """``run_stage`` on the demo cache with a context built from ``overrides``."""
    ctx = make_context(
        demo, store, size, overrides, distill_from=distill_from, log=log, on_epoch=on_epoch
    )
    return run_stage(stage, ctx)


@pytest.fixture
def make_ctx(demo: Demo) -> Callable[..., StageContext]:
    """``make_ctx(store, size, overrides, distill_from=, log=, on_epoch=)``."""

    def make(store: ArtifactStore, size: str, overrides: list[str], **kw: Any) -> StageContext:
        return make_context(demo, store, size, overrides, **kw)

    return make


@pytest.fixture
def run_stage_on_demo(demo: Demo) -> Callable[..., StageOutcome]:
    """``run_stage_on_demo(store, stage, size, overrides, distill_from=, log=, on_epoch=)``:
    the library's ``run_stage``, not the command line (see the module docstring)."""

    def run(
        store: ArtifactStore, stage: str, size: str, overrides: list[str], **kw: Any
    ) -> StageOutcome:
        return run_demo_stage(demo, store, stage, size, overrides, **kw)

    return run


@dataclass
class Pipelines:
    store: ArtifactStore
    outcomes: dict[tuple[str, str], StageOutcome] = field(default_factory=dict)
    logs: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def metrics(self, size: str, stage: str) -> dict[str, Any]:
        return self.outcomes[(size, stage)].metrics


@pytest.fixture(scope="session")
def pipelines(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Pipelines:
    """The teacher pipeline, then the student distilled from it. Read-only."""
    store = ArtifactStore(tmp_path_factory.mktemp("models_runs") / "runs", "session")
    result = Pipelines(store)
    for size, stages in (("teacher", TEACHER_STAGES), ("student", STUDENT_STAGES)):
        for stage, distill_from, extra in stages:
            log: list[str] = []
            result.outcomes[(size, stage)] = run_demo_stage(
                demo, store, stage, size, tiny(size, *extra), distill_from=distill_from, log=log
            )
            result.logs[(size, stage)] = log
    return result


def _with_teacher_detectors(pipelines: Pipelines, root: Path, run: str) -> ArtifactStore:
    """A store under ``root`` holding copies of the session teacher's VGAE and GAT: a run
    that differs from the session's only from the fusion stage on."""
    store = ArtifactStore(root / "runs", run)
    for key in ("vgae", "gat"):
        shutil.copytree(
            pipelines.store.dir(DATASET, "teacher", key), store.dir(DATASET, "teacher", key)
        )
    return store


def _refit_fusion(
    pipelines: Pipelines, demo: Demo, root: Path, run: str, *extra: str
) -> tuple[ArtifactStore, dict[str, Any], dict[str, Any], dict[str, np.ndarray], list[str]]:
    """The teacher's fusion and evaluate stages again with ``extra`` ``--set`` items, on
    copies of the session pipeline's detectors: (store, fusion metrics, evaluate metrics,
    scores.npz arrays, log lines)."""
    store = _with_teacher_detectors(pipelines, root, run)
    log: list[str] = []
    ctx = make_context(demo, store, "teacher", tiny("teacher", *extra), log=log)
    fusion = run_stage("fusion", ctx).metrics
    evaluate = run_stage("evaluate", ctx).metrics
    arrays = dict(np.load(store.path(DATASET, "teacher", "results", "scores.npz")))
    return store, fusion, evaluate, arrays, log


@pytest.fixture(scope="session")
def with_teacher_detectors(pipelines: Pipelines) -> Callable[[Path, str], ArtifactStore]:
    """``with_teacher_detectors(root, run)``: see :func:`_with_teacher_detectors`."""
    return lambda root, run: _with_teacher_detectors(pipelines, root, run)


@pytest.fixture(scope="session")
def refit_fusion(pipelines: Pipelines, demo: Demo) -> Callable[..., tuple[Any, ...]]:
    """``refit_fusion(root, run, *extra)``: see :func:`_refit_fusion`."""
    return lambda root, run, *extra: _refit_fusion(pipelines, demo, root, run, *extra)


@pytest.fixture
def copy_artifacts(tmp_path: Path) -> Callable[..., ArtifactStore]:
    """A private store holding copies of some artifacts of another store."""

    def copy(source: ArtifactStore, items: list[tuple[str, str]]) -> ArtifactStore:
        target = ArtifactStore(tmp_path / "runs", source.run)
        for size, key in items:
            shutil.copytree(source.dir(DATASET, size, key), target.dir(DATASET, size, key))
        return target

    return copy


@dataclass(frozen=True)
class CutMaxCapture:
    """One capture of window scores (raw, validation's normalisation the identity) and
    ``cut_max`` calibrated on it by the quantile rule α 0.02 over its first ``seconds``."""

    cuts: tuple[float, float]  # the GAT's and the VGAE's frozen cuts, in validation σ
    seconds: float

    def scores(self, gat: np.ndarray, vgae: np.ndarray, y: np.ndarray, step: float) -> SplitScores:
        """Windows ending every ``step`` s from ``step`` on, one capture (source 0)."""
        n = len(gat)
        ends = np.arange(1, n + 1) * step
        z = np.zeros(n)
        return SplitScores(
            "test_04", gat, vgae, np.zeros((n, 15)), y, z.astype(np.int64), ends - step, ends, z
        )

    def new_vehicle(
        self,
        seed: int,
        gat_spread: float,
        spikes: tuple[float, float],
        attack: tuple[float, float] = (30.0, 40.0),
    ) -> SplitScores:
        """60 s of a new vehicle, windows every 0.1 s: the GAT's normal traffic spreads
        ``gat_spread`` validation σ and spikes into ``spikes`` (validation σ) on one window
        in 20, before and after calibration alike; the VGAE is quiet except inside
        ``attack``, where it stands at 1.5 of its cut in the capture's own scale."""
        rng = np.random.default_rng(seed)
        step = 0.1
        ends = np.arange(1, 601) * step
        n = len(ends)
        gat = rng.normal(0.0, gat_spread, n)
        spiking = np.arange(n) % 20 == 7
        gat[spiking] = rng.uniform(*spikes, spiking.sum())
        vgae = rng.normal(0.0, 1.0, n)
        y = ((ends > attack[0]) & (ends <= attack[1])).astype(np.int64)
        start = vgae[ends <= self.seconds]
        centre = np.median(start)
        mad_sigma = MAD_TO_SIGMA * np.median(np.abs(start - centre))
        vgae[y == 1] = centre + 1.5 * self.cuts[1] * mad_sigma
        return self.scores(gat, vgae, y, step)

    @staticmethod
    def together(first: SplitScores, second: SplitScores) -> SplitScores:
        """Two single captures as one split: sources 0 and 1."""
        n = len(first) + len(second)

        def cat(name: str) -> np.ndarray:
            return np.concatenate((getattr(first, name), getattr(second, name)))

        sources = np.repeat([0, 1], [len(first), len(second)])
        return SplitScores(
            "test_04", cat("gat"), cat("vgae"), np.zeros((n, 15)), cat("y"), sources,
            cat("window_start"), cat("window_end"), np.zeros(n),
        )  # fmt: skip

    def model(self, at: str) -> FusionModel:
        rule = CalibrationRule("quantile", 0.02, self.seconds)
        return FusionModel(
            {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)},
            "cut_max",
            {},
            {"cut_max": rule},
            self.seconds,
            cut_units=self.cuts,
            cut_units_at=at,
        )

    def calibrated(self, at: str, scores: SplitScores) -> tuple[np.ndarray, np.ndarray, float]:
        """(flags on the scored windows, their labels, the capture's threshold)."""
        model = self.model(at)
        fused = model.fuse("cut_max", model.calibrated_inputs(scores))
        (stream,) = scores.streams(fused, with_labels=False)
        scored, flags, calib = calibrate_stream(stream, model.calibration["cut_max"])
        return flags, scores.y[scored], calib.threshold


@pytest.fixture(scope="session")
def cut_max_capture() -> Callable[[tuple[float, float], float], CutMaxCapture]:
    """``cut_max_capture(cuts, seconds)``: see :class:`CutMaxCapture`."""
    return CutMaxCapture
