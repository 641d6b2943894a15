"""``fusion.select=teacher``: a distilled student deploys the fusion its teacher deployed.

A student is distilled to behave as its teacher, and the teacher's choice of fusion was
made with the better detectors: on hcrl_sa the student's own families rule decides among
candidates within 0.007 of each other on one attack family (docs/results.md, canids-models
0.25.0), and it costs a training of both student detectors per family. The student
still fits every candidate on its own validation (thresholds, calibration rules, the DQN)
and reports them; only the choice is its teacher's, read from the teacher's finished
fusion artifact in the same run, whose finished stamp the student's metrics record.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from ..context import StageContext
from ..errors import ModelsError

__all__ = ["TeacherPick", "teacher_of", "teacher_pick"]


@dataclass(frozen=True)
class TeacherPick:
    """The teacher's deployed fusion: whose it is, what chose it there, and the finished
    stamp of the artifact it was read from."""

    teacher: str
    method: str
    rule: str
    chosen_by: str
    finished: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def teacher_of(ctx: StageContext) -> str:
    """The size the student was distilled from: ``--distill-from`` where given (the
    student pipeline passes it), else what its GAT's training recorded."""
    if ctx.distill_from is not None:
        return ctx.distill_from
    where = ctx.store.dir(ctx.dataset, ctx.size, "gat")
    if not ctx.store.is_done(ctx.dataset, ctx.size, "gat"):
        raise ModelsError(
            f"{ctx.dataset}: fusion.select=teacher needs the {ctx.size}'s gat, which is not "
            f"done ({where}): run the student pipeline (canids-submit pipeline student)"
        )
    teacher = ctx.store.read_json(ctx.dataset, ctx.size, "gat", "config.json")["distill_from"]
    if teacher is None:
        raise ModelsError(
            f"{ctx.dataset}: fusion.select=teacher deploys the fusion of the teacher this "
            f"{ctx.size} was distilled from, but its gat ({where}) was trained without "
            "--distill-from: distil it (canids-submit pipeline student) or set "
            "fusion.select=auto"
        )
    return str(teacher)


def teacher_pick(ctx: StageContext, fitted: Collection[str]) -> TeacherPick:
    """The fusion the teacher's finished fusion stage deployed, which must be one of the
    student's ``fitted`` candidates (their configs may differ: ``fusion.cut_fusions``)."""
    teacher = teacher_of(ctx)
    store, dataset = ctx.store, ctx.dataset
    where = store.dir(dataset, teacher, "fusion")
    if not store.is_done(dataset, teacher, "fusion"):
        raise ModelsError(
            f"{dataset}: fusion.select=teacher deploys the {teacher}'s fusion, which is not "
            f"done ({where}): run {store.train_command('fusion', dataset, teacher)} first "
            f"(or the {teacher} pipeline)"
        )
    metrics = store.read_json(dataset, teacher, "fusion", "metrics.json")
    method = str(metrics["method"])
    if method not in fitted:
        raise ModelsError(
            f"{dataset}: the {teacher} deployed fusion {method} ({where}), which this "
            f"{ctx.size} does not fit (its candidates: {', '.join(sorted(fitted))}): give "
            f"both the same fusion.cut_fusions, or set fusion.select=auto"
        )
    selection = metrics.get("selection", {})
    rule = str(selection.get("rule", selection.get("select", "validation")))
    chosen_by = (
        "set by fusion.method"
        if selection.get("configured", "auto") != "auto"
        else f"its {rule} rule"
    )
    finished = str(store.done_record(dataset, teacher, "fusion")["finished"])
    return TeacherPick(teacher, method, rule, chosen_by, finished)
