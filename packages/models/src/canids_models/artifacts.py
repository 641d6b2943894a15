"""The artifact store: the only code that maps (run, dataset, size, artifact) to paths.

Layout: ``<runs_dir>/<run>/<dataset>/<size>/<artifact>/`` holding ``checkpoint.pt``,
``metrics.json``, ``config.json``, ``train_state.pt`` (resume) and ``DONE.json``,
which is written last: an artifact is done exactly when its DONE record exists. The
``results`` artifact adds ``results.md``, ``scores.npz`` and ``report.html``; a stage's
W&B run sits in ``wandb/`` of its artifact (:meth:`ArtifactStore.tracking_dir`).
Every write is atomic, and checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canids_core import NameRuleError, atomic_file, atomic_write_bytes, check_name, quoted_command

from .errors import ArtifactError

if TYPE_CHECKING:
    import torch

__all__ = ["ARTIFACT_KEYS", "ArtifactStore", "resolve_runs_dir"]

ARTIFACT_KEYS: tuple[str, ...] = ("vgae", "gat", "fusion", "results")


def resolve_runs_dir(runs_dir: str | Path | None = None) -> Path:
    """``runs_dir``, else ``$CANIDS_RUNS_DIR``, else ``./runs``."""
    chosen = runs_dir or os.environ.get("CANIDS_RUNS_DIR") or "runs"
    return Path(chosen).expanduser().resolve()


def _safe(kind: str, value: str) -> str:
    """``value`` under the one canids name rule (``canids_core.check_name``), so that a name
    the store accepts is accepted by SLURM too. Raised as an :class:`ArtifactError`, which
    callers that read foreign result lines catch (such a name cannot name an artifact)."""
    try:
        return check_name(kind, value)
    except NameRuleError as exc:
        raise ArtifactError(str(exc)) from exc


class ArtifactStore:
    def __init__(
        self,
        runs_dir: str | Path | None = None,
        run: str = "default",
        *,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.runs_dir = resolve_runs_dir(runs_dir)
        self.run = _safe("run", run)
        # The cache a user named for the stages that write here: every fix's command names
        # it, else the command would train on $CANIDS_CACHE_DIR or ./cache instead.
        self.cache_dir = None if cache_dir is None else Path(cache_dir).expanduser().resolve()

    # ------------------------------------------------------------------ paths
    def dir(self, dataset: str, size: str, key: str) -> Path:
        if key not in ARTIFACT_KEYS:
            raise ArtifactError(f"unknown artifact {key!r}; known: {', '.join(ARTIFACT_KEYS)}")
        return self.runs_dir / self.run / _safe("dataset", dataset) / _safe("size", size) / key

    def path(self, dataset: str, size: str, key: str, name: str) -> Path:
        if name not in (
            "checkpoint.pt",
            "metrics.json",
            "config.json",
            "train_state.pt",
            "DONE.json",
            "results.md",
            "log.jsonl",
            "scores.npz",
            "report.html",
        ):
            raise ArtifactError(f"unknown artifact file {name!r}")
        return self.dir(dataset, size, key) / name

    def tracking_dir(self, dataset: str, size: str, key: str) -> Path:
        """Where the W&B run of the stage making artifact ``key`` lives: the artifact's
        folder, in which W&B makes ``wandb/offline-run-*`` (``run-*`` online)."""
        return self.dir(dataset, size, key)

    def train_state_path(self, dataset: str, size: str, key: str) -> Path:
        """The resume state of the stage making ``key`` (``train_state.pt``)."""
        return self.path(dataset, size, key, "train_state.pt")

    def train_storage_dir(self, dataset: str, size: str, key: str) -> Path:
        """Ray Train's storage for the data-parallel stage making artifact ``key``: its
        epoch checkpoints (``ray_train/``, removed when the stage is done). On several
        nodes it must be on a shared filesystem, as the runs dir is."""
        return self.dir(dataset, size, key) / "ray_train"

    def pipeline_dir(self, dataset: str, pipeline: str, size: str) -> Path:
        """An executor's folder for one pipeline run: ``pipeline.json`` and stage logs."""
        return (
            self.runs_dir
            / self.run
            / _safe("dataset", dataset)
            / "pipelines"
            / f"{_safe('pipeline', pipeline)}-{_safe('size', size)}"
        )

    def pipeline_record(self, dataset: str, pipeline: str, size: str) -> Path:
        return self.pipeline_dir(dataset, pipeline, size) / "pipeline.json"

    def stage_log(self, dataset: str, pipeline: str, size: str, stage: str) -> Path:
        return self.pipeline_dir(dataset, pipeline, size) / f"{_safe('stage', stage)}.log"

    def write_pipeline_record(self, dataset: str, pipeline: str, size: str, data: Any) -> Path:
        """Write the run record atomically (other processes poll it while stages run)."""
        path = self.pipeline_record(dataset, pipeline, size)
        atomic_write_bytes(path, _json_bytes(data))
        return path

    def train_command(self, stage: str, dataset: str, size: str) -> str:
        """The ``canids-train`` command that runs ``stage`` into this store, as every fix
        names it (``--run`` only where it is not the default, ``--cache-dir`` where the
        store was given one, shell-quoted)."""
        run = ["--run", self.run] if self.run != "default" else []
        cache = ["--cache-dir", str(self.cache_dir)] if self.cache_dir is not None else []
        argv = ["canids-train", stage, "--dataset", dataset, "--size", size]
        return quoted_command([*argv, "--runs-dir", str(self.runs_dir), *run, *cache])

    # ------------------------------------------------------------------ state
    def is_done(self, dataset: str, size: str, key: str) -> bool:
        return self.path(dataset, size, key, "DONE.json").is_file()

    def done_record(self, dataset: str, size: str, key: str) -> dict[str, Any]:
        path = self.path(dataset, size, key, "DONE.json")
        if not path.is_file():
            raise ArtifactError(
                f"artifact {key} ({size}) of {dataset} is not done: {path} does not exist",
            )
        return json.loads(path.read_text())

    def begin(self, dataset: str, size: str, key: str, *, keep_train_state: bool = True) -> Path:
        """Start (re)writing an artifact: its DONE record goes first, so a half-rewritten
        artifact is never taken for a finished one. ``train_state.pt`` survives for resume."""
        d = self.dir(dataset, size, key)
        d.mkdir(parents=True, exist_ok=True)
        self.path(dataset, size, key, "DONE.json").unlink(missing_ok=True)
        if not keep_train_state:
            self.path(dataset, size, key, "train_state.pt").unlink(missing_ok=True)
        return d

    def finish(self, dataset: str, size: str, key: str, record: dict[str, Any]) -> Path:
        """Write the DONE record (last) and drop the resume state."""
        self.path(dataset, size, key, "train_state.pt").unlink(missing_ok=True)
        record = {
            **record,
            "artifact": key,
            "size": size,
            "dataset": dataset,
            "run": self.run,
            "finished": dt.datetime.now(dt.UTC).isoformat(),
        }
        return self.write_json(dataset, size, key, "DONE.json", record)

    def remove(self, dataset: str, size: str, key: str) -> None:
        shutil.rmtree(self.dir(dataset, size, key), ignore_errors=True)

    # ------------------------------------------------------------------ I/O
    def write_json(self, dataset: str, size: str, key: str, name: str, data: Any) -> Path:
        path = self.path(dataset, size, key, name)
        atomic_write_bytes(path, _json_bytes(data))
        return path

    def read_json(self, dataset: str, size: str, key: str, name: str) -> Any:
        path = self.path(dataset, size, key, name)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ArtifactError(f"{path} does not exist") from exc

    def write_text(self, dataset: str, size: str, key: str, name: str, text: str) -> Path:
        path = self.path(dataset, size, key, name)
        atomic_write_bytes(path, text.encode())
        return path

    def write_arrays(
        self, dataset: str, size: str, key: str, name: str, arrays: dict[str, Any]
    ) -> Path:
        """numpy arrays in one ``.npz`` (readable with ``np.load(allow_pickle=False)``)."""
        import io

        import numpy as np

        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        path = self.path(dataset, size, key, name)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def save(self, dataset: str, size: str, key: str, name: str, state: dict[str, Any]) -> Path:
        """``torch.save`` atomically (temp file beside the target, fsync, rename)."""
        import torch  # here, not at import: job status reads paths without torch

        path = self.path(dataset, size, key, name)
        with atomic_file(path) as fh:
            torch.save(state, fh)
        return path

    def load(
        self,
        dataset: str,
        size: str,
        key: str,
        name: str = "checkpoint.pt",
        map_location: str | torch.device = "cpu",
    ) -> dict[str, Any]:
        """Load a checkpoint with ``weights_only=True``: tensors and plain values only."""
        return self._load(self.path(dataset, size, key, name), map_location, (dataset, size, key))

    def load_file(
        self,
        path: Path,
        map_location: str | torch.device = "cpu",
        artifact: tuple[str, str, str] | None = None,
    ) -> dict[str, Any]:
        """Load a checkpoint file this store wrote (or a copy of one, such as Ray Train's
        epoch checkpoint) with ``weights_only=True``. ``artifact`` is the (dataset, size,
        key) it belongs to, for the fix line of a refusal; by default the artifact folder
        the file lies in (``<run>/<dataset>/<size>/<key>/…``)."""
        if artifact is None:
            try:
                parts = Path(path).resolve().relative_to((self.runs_dir / self.run).resolve()).parts
            except ValueError:
                parts = ()
            if len(parts) < 4:
                raise ArtifactError(
                    f"{path} is not inside the run folder {self.runs_dir / self.run}: "
                    "pass artifact=(dataset, size, key)"
                )
            artifact = (parts[0], parts[1], parts[2])
        return self._load(Path(path), map_location, artifact)

    def _load(
        self, path: Path, map_location: str | torch.device, artifact: tuple[str, str, str]
    ) -> dict[str, Any]:
        if not path.is_file():
            raise ArtifactError(f"{path} does not exist")
        import torch

        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # torch raises several types for a damaged file
            raise self._refused(path, *artifact, exc) from None

    def _refused(
        self, path: Path, dataset: str, size: str, key: str, exc: Exception
    ) -> ArtifactError:
        """Why a checkpoint was not loaded, and the fix; never torch's own advice to load it
        with ``weights_only=False`` (which runs whatever the file holds)."""
        from .catalog import STAGES  # the stages that write this artifact

        text = str(exc)
        stages = [name for name, spec in STAGES.items() if spec.produces == key] or [key]
        retrain = " or ".join(self.train_command(stage, dataset, size) for stage in stages)
        fix = (
            f"delete it and retrain its stage: {quoted_command(['rm', str(path)])}, then {retrain}"
        )
        unsafe = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", text)
        if unsafe:
            why = (
                f"is not a weights-only checkpoint: it holds a pickled Python object "
                f"({unsafe.group(1)}), and canids loads tensors and plain values only (loading "
                "objects would run code from the file)"
            )
        else:
            # torch's own lines about weights_only (and its advice to turn it off) are
            # left out: what is left says what is wrong with the bytes.
            first = next(
                (
                    ln.strip()
                    for ln in text.splitlines()
                    if ln.strip() and not re.search(r"[Ww]eights.only|documentation", ln)
                ),
                "unreadable",
            )
            kind = type(exc).__name__
            why = f"cannot be loaded: damaged or not a torch checkpoint ({kind}: {first})"
        return ArtifactError(f"{path} {why}\n  fix: {fix}")


def _json_bytes(data: Any) -> bytes:
    # ``default=str``, unlike canids_core.atomic_write_json: records hold paths
    # (``Path("/x")`` → ``"/x"``), and that is this store's documented, tested contract.
    return (json.dumps(data, indent=1, sort_keys=True, default=str) + "\n").encode()
