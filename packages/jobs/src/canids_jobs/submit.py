"""The SLURM executor: every planned stage becomes one sbatch job, chained with
``--dependency=afterok:<ids>`` on the ids ``sbatch --parsable`` printed for the stages
that make its inputs (never an id read back from ``squeue``). Each job is written to the
ledger the moment ``sbatch`` returns.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canids_core import Resources, atomic_write_text, format_slurm_time
from canids_models import (
    STAGES,
    ArtifactStore,
    PipelinePlan,
    stage_command,
    stage_graph,
    stage_id,
)

from .cluster_profile import ClusterProfile
from .errors import JobsError, SlurmError
from .ledger import Ledger, LedgerJob
from .slurm import sbatch
from .stage_script import render_stage_script, resolve_resources, validate_name

__all__ = ["RenderedJob", "SlurmSubmitter", "SubmitError"]


class SubmitError(JobsError):
    """sbatch refused a job part way through a chain; ``submitted`` is what went in."""

    def __init__(self, message: str, submitted: list[LedgerJob]) -> None:
        super().__init__(message)
        self.submitted = submitted


@dataclass(frozen=True)
class RenderedJob:
    plan: PipelinePlan
    stage: str
    stage_id: str
    waits_for: tuple[str, ...]
    resources: Resources
    notes: tuple[str, ...]
    script: str
    script_path: Path
    output: Path  # the .out pattern, with %j


class SlurmSubmitter:
    def __init__(
        self,
        store: ArtifactStore,
        *,
        cache_dir: Path,
        profile: ClusterProfile,
        ledger: Ledger | None,
        train_command: Sequence[str] = ("canids-train",),
        extra_args: Sequence[str] = (),
        check_sources: bool = True,
        overrides: Mapping[str, str] | None = None,
        stage_overrides: Mapping[str, Mapping[str, str]] | None = None,
        gpu_type: str | None = None,
        kill_on_invalid_dep: bool = True,
        venv: str | None = None,
        env: Mapping[str, str] | None = None,
        echo: Callable[[str], None] = lambda _line: None,
        stage_args: Callable[[PipelinePlan, str], Sequence[str]] | None = None,
        workers: int = 1,
        families: int | Mapping[str, int] = 0,
    ) -> None:
        self.store = store
        self.cache_dir = Path(cache_dir).resolve()
        self.profile = profile
        self.ledger = ledger
        self.train_command = list(train_command)
        self.extra_args = list(extra_args)
        self.check_sources = check_sources
        self.overrides = dict(overrides or {})
        self.stage_overrides = {k: dict(v) for k, v in (stage_overrides or {}).items()}
        self.gpu_type = gpu_type
        self.kill_on_invalid_dep = kill_on_invalid_dep
        self.venv = venv or sys.prefix
        self.env = env
        self.echo = echo
        # A stage's own canids-train arguments (canids-submit: each pipeline's W&B group).
        self.stage_args = stage_args
        # Data-parallel workers per training stage: sizes each job (canids-train gets
        # --workers through extra_args).
        self.workers = workers
        # Attack families the fusion stage holds out (the families rule of fusion.select,
        # which the default auto takes where there are two or more): it trains
        # both detectors again for each, and its walltime must hold them. A mapping gives
        # the count per plan size: a student deploying its teacher's pick holds none out.
        self.families = families

    def families_of(self, plan: PipelinePlan) -> int:
        """The attack families ``plan``'s fusion stage holds out (0: none)."""
        if isinstance(self.families, Mapping):
            return self.families.get(plan.size, 0)
        return self.families

    def _families_walltime(
        self, plan: PipelinePlan
    ) -> tuple[Mapping[str, Mapping[str, str]], str | None]:
        """The fusion stage's walltime when it holds out ``families`` attack families: its
        own plus, per family, the plan's VGAE and GAT stages' (the user's walltime, where
        given, stands)."""
        n = self.families_of(plan)
        if "walltime" in self.overrides or "walltime" in self.stage_overrides.get("fusion", {}):
            return self.stage_overrides, None
        gat = "gat_curriculum" if "gat_curriculum" in plan.pipeline.stages else "gat"
        own, vgae, gat_s = (STAGES[s].resources.walltime for s in ("fusion", "vgae", gat))
        total = format_slurm_time(own + n * (vgae + gat_s))
        note = (
            f"the families rule (fusion.select): the fusion stage trains vgae and {gat} again "
            f"for each of {n} attack families, so it asks {total} ({format_slurm_time(own)} + "
            f"{n} x ({format_slurm_time(vgae)} + {format_slurm_time(gat_s)})); "
            "--stage-resources fusion:walltime=... sets another"
        )
        fusion = {**self.stage_overrides.get("fusion", {}), "walltime": total}
        return {**self.stage_overrides, "fusion": fusion}, note

    def render(self, plans: Sequence[PipelinePlan]) -> list[RenderedJob]:
        """Every stage's script (validated), in submission order; nothing is written."""
        validate_name(self.store.run, "run")
        graph = stage_graph(plans)
        jobs = []
        for plan in plans:
            validate_name(plan.dataset, "dataset")
            out_dir = self.store.pipeline_dir(plan.dataset, plan.pipeline.name, plan.size)
            out_dir = out_dir / "slurm"
            for stage in plan.run_stages:
                sid = stage_id(plan, stage)
                stage_overrides, held_out = self.stage_overrides, None
                if stage == "fusion" and self.families_of(plan):
                    stage_overrides, held_out = self._families_walltime(plan)
                resources, notes = resolve_resources(
                    stage, self.profile, self.overrides, stage_overrides, self.workers
                )
                notes = [held_out, *notes] if held_out else notes
                cmd = stage_command(
                    plan,
                    stage,
                    self.store,
                    self.cache_dir,
                    train_command=self.train_command,
                    extra_args=[
                        *self.extra_args,
                        *(self.stage_args(plan, stage) if self.stage_args is not None else ()),
                    ],
                    check_sources=self.check_sources,
                )
                script = render_stage_script(
                    plan,
                    stage,
                    cmd,
                    resources,
                    self.profile,
                    out_dir,
                    venv=self.venv,
                    gpu_type=self.gpu_type,
                )
                jobs.append(
                    RenderedJob(
                        plan,
                        stage,
                        sid,
                        tuple(graph[sid]),
                        resources,
                        tuple(notes),
                        script,
                        out_dir / f"{stage}.sbatch",
                        out_dir.resolve() / f"{stage}-%j.out",
                    )
                )
        return jobs

    def submit(self, plans: Sequence[PipelinePlan]) -> tuple[str, list[LedgerJob]]:
        """Submit every stage in order; returns (pipeline id, ledger rows)."""
        if self.ledger is None:
            raise JobsError("a submission needs a ledger (only --dry-run renders without one)")
        ledger = self.ledger
        rendered = self.render(plans)
        first = plans[0]
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        pipeline_id = f"{first.dataset}-{first.pipeline.name}-{first.size}-{stamp}-{os.getpid()}"
        ids: dict[str, str] = {}
        done: list[LedgerJob] = []
        for job in rendered:
            atomic_write_text(job.script_path, job.script)
            parents = [ids[p] for p in job.waits_for]
            try:
                job_id = sbatch(
                    job.script_path,
                    dependency_ids=parents,
                    kill_on_invalid_dep=self.kill_on_invalid_dep,
                    env=self.env,
                    cwd=job.script_path.parent,
                )
            except SlurmError as exc:
                raise SubmitError(
                    f"sbatch refused {job.stage_id} after {len(done)} of {len(rendered)} jobs "
                    f"went in ({exc}); the submitted ones are in the ledger: cancel them with "
                    f"canids-jobs cancel {pipeline_id}",
                    done,
                ) from exc
            ids[job.stage_id] = job_id
            row = LedgerJob(
                job_id=job_id,
                pipeline_id=pipeline_id,
                pipeline=job.plan.pipeline.name,
                dataset=job.plan.dataset,
                size=job.plan.size,
                stage=job.stage,
                script=str(job.script_path.resolve()),
                output=str(job.output),
                submitted_at=time.time(),
                parents=tuple(parents),
                resources=job.resources.slurm_fields(),
                runs_dir=str(self.store.runs_dir),
                run=self.store.run,
            )
            ledger.add(row)  # before the next sbatch: a broken chain stays visible
            done.append(row)
            after = f" after {','.join(parents)}" if parents else ""
            self.echo(f"submitted {job.stage_id} as job {job_id}{after}")
        self._write_records(plans, pipeline_id, done)
        return pipeline_id, done

    def _write_records(
        self, plans: Sequence[PipelinePlan], pipeline_id: str, rows: list[LedgerJob]
    ) -> None:
        for plan in plans:
            record: dict[str, Any] = plan.record(executor="slurm")
            record.update(status="submitted", pipeline_id=pipeline_id)
            by_stage = {r.stage: r for r in rows if r.pipeline == plan.pipeline.name}
            for entry in record["stages"]:
                row = by_stage.get(entry["stage"])
                if row is not None:
                    entry.update(
                        status="submitted",
                        job_id=row.job_id,
                        script=row.script,
                        output=row.output,
                        waits_for=list(row.parents),
                    )
            self.store.write_pipeline_record(plan.dataset, plan.pipeline.name, plan.size, record)

    @staticmethod
    def describe(jobs: Sequence[RenderedJob]) -> str:
        """The dependency graph, for --dry-run."""
        lines = []
        for job in jobs:
            after = f" after {', '.join(job.waits_for)}" if job.waits_for else ""
            res = job.resources.slurm_fields()
            lines.append(
                f"  {job.stage_id}{after} [{res['cpus']} CPU, {res['gpus']} GPU, "
                f"{res['memory']}, {res['walltime']}]"
                + "".join(f"\n    note: {n}" for n in job.notes)
            )
            lines.append(f"    sbatch {shlex.quote(str(job.script_path))}")
        return "\n".join(lines)
