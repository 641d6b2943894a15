"""The distilled student held out by dataset (``dataset_holdout.py --student``): its
default fusion against its teacher's in the same run folder, on another dataset's
vehicles, under issue 10's student goal (within 0.03 F1 of the teacher, at most 10 % of
its parameters). Nothing here chooses a default: the figures are reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detection_ablation import results_metrics, run_stages
from distill_select import prepare

__all__ = ["GAP", "PARAMETER_SHARE", "STUDENT_VARIANTS", "distil", "student_gaps", "student_lines"]

GAP = 0.03  # the most a student's F1 may fall below its teacher's (issue 10)
PARAMETER_SHARE = 0.10  # the largest share of the teacher's parameters a student may have
# Student settings reported beside the default student, each in a folder of its own.
STUDENT_VARIANTS: dict[str, tuple[str, ...]] = {
    # canids-models 0.22.0's opt-in: the distilled GAT kept by fidelity to its teacher.
    "fidelity": ("distill.select=fidelity",),
}


def distil(
    run_dir: Path, dataset: str, cache: Path, sets: list[str], others: list[str], log: Path
) -> dict[str, dict[str, Any]]:
    """The student's evaluate metrics, by student variant (``""``: the default student,
    distilled in ``run_dir`` from its teacher under ``sets``; each of ``others`` in
    ``<run_dir>-<variant>``, beside it, with copies of the teacher and of the default
    student's VGAE). Finished stages are reused."""
    run_stages(dataset, "student", run_dir, cache, sets, log)
    folders = {"": run_dir}
    for other in others:
        stem, seed = run_dir.name.rsplit("-s", 1)
        folder = run_dir.with_name(f"{stem}-{other}-s{seed}")
        prepare(run_dir, folder, dataset)
        run_stages(dataset, "student", folder, cache, [*sets, *STUDENT_VARIANTS[other]], log)
        folders[other] = folder
    return {other: results_metrics(f, dataset, "student") for other, f in folders.items()}


def student_gaps(teacher: dict[str, Any], student: dict[str, Any]) -> dict[str, float]:
    """Per ``<protocol> f1 <split>`` of the default fusions (``dataset_holdout.figures``),
    the student's F1 minus the teacher's, where both are defined (a split without an
    attack window has no F1 to compare)."""
    t, s = teacher["models"]["pick"], student["models"]["pick"]
    return {
        field: s[field] - t[field]
        for field in sorted(t)
        if " f1 " in field and t[field] is not None and s.get(field) is not None
    }


def student_lines(
    teachers: dict[str, dict[str, Any]],
    students: dict[str, dict[str, Any]],
    parameters: dict[str, tuple[int, int]],
) -> list[str]:
    """Per run (``<direction>-s<seed>``), each attack split's gap per protocol, the cells
    within :data:`GAP`, and the student's share of the teacher's fusion parameters
    (``parameters``: run → (teacher, student))."""
    lines = ["| run | pick (teacher / student) | gaps, student − teacher | parameters |"]
    lines.append("|---|---|---|---|")
    within = cases = 0
    for run, fig in sorted(students.items()):  # by direction, then seed
        gaps = student_gaps(teachers[run], fig)
        cases += len(gaps)
        within += sum(g >= -GAP for g in gaps.values())
        cells = ", ".join(f"{field.replace(' f1 ', ' ')} {g:+.3f}" for field, g in gaps.items())
        teacher_n, student_n = parameters[run]
        share = student_n / teacher_n
        mark = "" if share <= PARAMETER_SHARE else f" (over {PARAMETER_SHARE:.0%})"
        lines.append(
            f"| {run} | {teachers[run]['pick']} / {fig['pick']} | {cells or '-'} | "
            f"{student_n:,} of {teacher_n:,}: {share:.1%}{mark} |"
        )
    lines.append(
        f"\nStudent within {GAP} F1 of its teacher: {within} of {cases} cells "
        "(default fusions, every attack capture and protocol)"
    )
    return lines
