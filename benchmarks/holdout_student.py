"""The distilled student held out by dataset (``dataset_holdout.py --student``): its
default fusion against its teacher's in the same run folder, on another dataset's
vehicles, under issue 10's student goal (within 0.03 F1 of the teacher, at most 10 % of
its parameters). The default student judges nothing; a student variant with a rule of its
own (:data:`JUDGED`) gets a verdict against it (:func:`student_verdict`), on each group of
directions its rule names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from detection_ablation import copy_detectors, results_metrics, run_stages
from distill_select import prepare
from holdout_both import alarm_limit, validation_condition, validation_f1

__all__ = [
    "ALARM_GROWTH",
    "FALL",
    "GAP",
    "JUDGED",
    "PARAMETER_SHARE",
    "STUDENT_COPIES",
    "STUDENT_VARIANTS",
    "VALIDATION_JUDGED",
    "distil",
    "student_gaps",
    "student_lines",
    "student_summary",
    "student_verdict",
    "verdict_lines",
    "within_cells",
]

GAP = 0.03  # the most a student's F1 may fall below its teacher's (issue 10)
PARAMETER_SHARE = 0.10  # the largest share of the teacher's parameters a student may have
# Student settings reported beside the default student, each in a folder of its own.
STUDENT_VARIANTS: dict[str, tuple[str, ...]] = {
    # canids-models 0.22.0's opt-in: the distilled GAT kept by fidelity to its teacher.
    "fidelity": ("distill.select=fidelity",),
    # canids-models 0.26.0's candidate: the student deploys its teacher's fusion.
    "teacher_pick": ("fusion.select=teacher",),
}
# The default student's artifacts a variant's folder copies: a variant that changes only
# the fusion keeps both detectors; fidelity distils its own GAT.
STUDENT_COPIES: dict[str, tuple[str, ...]] = {
    "fidelity": ("vgae",),
    "teacher_pick": ("vgae", "gat"),
}
# The student variants judged against the default student, each by the rule written
# before its runs (docs/results.md): more cells within GAP of the teacher, the mean
# calibrated F1 not down by more than FALL, false alarms per hour at most ALARM_GROWTH
# times the default student's; each group of directions named must pass (an empty group:
# every run both have). canids-models 0.26.0's teacher_pick: every run. fidelity (0.22.0's
# opt-in, judged here on 2026-12-07): hcrl_sa_to_set_01, whose captures no student kept by
# fidelity had been run on, alone, and both directions together (set_01_to_hcrl_sa's
# fidelity students were read in the section after 0.23.0's).
JUDGED: dict[str, tuple[tuple[str, ...], ...]] = {
    "teacher_pick": ((),),
    "fidelity": (("hcrl_sa_to_set_01",), ("hcrl_sa_to_set_01", "set_01_to_hcrl_sa")),
}
# Variants whose rule also bounds the fall of the student's deployed fusion's calibrated
# F1 on validation, the training vehicles (by holdout_both.VAL_FALL): a new vehicle must
# not be bought with the known one (holdout_both.py's condition (d)).
VALIDATION_JUDGED: tuple[str, ...] = ("fidelity",)
FALL = 0.005
ALARM_GROWTH = 1.5


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
        copy_detectors(run_dir, folder, dataset, "student", keys=STUDENT_COPIES[other])
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
    within, cases = within_cells(teachers, students)
    for run, fig in sorted(students.items()):  # by direction, then seed
        gaps = student_gaps(teachers[run], fig)
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


def within_cells(
    teachers: dict[str, dict[str, Any]], students: dict[str, dict[str, Any]]
) -> tuple[int, int]:
    """(cells within :data:`GAP` of the teacher, cells) over every run of ``students``."""
    gaps = [g for run, fig in students.items() for g in student_gaps(teachers[run], fig).values()]
    return sum(g >= -GAP for g in gaps), len(gaps)


def student_summary(
    teachers: dict[str, dict[str, Any]],
    students: dict[str, dict[str, Any]],
    pick_summary: Callable[[dict[str, dict[str, Any]]], dict[str, float]],
) -> dict[str, float]:
    """The cells within :data:`GAP`, ``pick_summary`` of the students (dataset_holdout's:
    the default fusion's mean calibrated F1 over every attack capture and its mean
    calibrated false alarms per hour on the attack-free one) and its mean calibrated F1 on
    validation (``None`` where no run has it)."""
    within, cases = within_cells(teachers, students)
    val_f1 = validation_f1(students)
    return {"within": within, "cases": cases, **pick_summary(students), "val_f1": val_f1}


def student_verdict(
    default: dict[str, Any], candidate: dict[str, Any], validation: bool = False
) -> tuple[bool, str]:
    """The rule written before the runs (:data:`JUDGED`): adopt where the cells within
    :data:`GAP` strictly rise, the mean calibrated F1 falls by at most :data:`FALL`, and
    the false alarms per hour grow by at most :data:`ALARM_GROWTH` times (from a quiet
    default, by at most 1 per hour); with ``validation``, also holdout_both's condition
    (d) (:func:`holdout_both.validation_condition`)."""
    change = round(candidate["f1"] - default["f1"], 6)
    limit = alarm_limit(default["alarms_h"], ALARM_GROWTH)
    ok = (
        candidate["within"] > default["within"]
        and change >= -FALL
        and candidate["alarms_h"] <= limit
    )
    why = (
        f"cells within {GAP} of the teacher {default['within']:.0f} -> "
        f"{candidate['within']:.0f} of {candidate['cases']:.0f} (adopting needs more), mean "
        f"calibrated F1 {default['f1']:.3f} -> {candidate['f1']:.3f} ({change:+.3f}; at "
        f"most -{FALL}), false alarms per hour {default['alarms_h']:.1f} -> "
        f"{candidate['alarms_h']:.1f} (at most {limit:.1f})"
    )
    if validation:
        val_ok, val = validation_condition(default.get("val_f1"), candidate.get("val_f1"))
        ok, why = ok and val_ok, f"{why}, {val}"
    return ok, why


def _direction(run: str) -> str:
    return run.rsplit("-s", 1)[0]


def verdict_lines(
    teachers: dict[str, dict[str, dict[str, Any]]],
    students: dict[str, dict[str, dict[str, Any]]],
    pick_summary: Callable[[dict[str, dict[str, Any]]], dict[str, float]],
    judged: dict[str, tuple[tuple[str, ...], ...]] = JUDGED,
) -> list[str]:
    """Each judged student variant (label ``<variant>+<student variant>``) against the
    default student of the same teacher variant, on the runs both have, once per group of
    directions its rule names (``judged``, by default :data:`JUDGED`; a directions file's
    is every run): adopted where every group passes."""
    lines = []
    for label, runs in students.items():
        name, _, other = label.partition("+")
        if other not in judged:
            continue
        default = students.get(name, {})
        both = sorted(set(runs) & set(default))
        if not both:
            lines.append(f"\n{label}: the default student did not run beside it: no verdict")
            continue
        groups, passed = judged[other], []
        for group in groups:
            keys = [k for k in both if not group or _direction(k) in group]
            absent = [d for d in group if d not in {_direction(k) for k in keys}]
            if absent:
                lines.append(f"\n{label}: no run of {', '.join(absent)} beside it: no verdict")
                break
            ok, why = student_verdict(
                student_summary(teachers[name], {k: default[k] for k in keys}, pick_summary),
                student_summary(teachers[name], {k: runs[k] for k in keys}, pick_summary),
                validation=other in VALIDATION_JUDGED,
            )
            passed.append(ok)
            if len(groups) == 1:  # its verdict
                mark = "adopt" if ok else "not adopted"
            else:  # one condition of its verdict
                mark = "holds" if ok else "fails"
            lines.append(f"\n{label}, judged on {', '.join(keys)}: {why}: **{mark}**")
        else:
            if len(groups) > 1:
                verdict = "adopt" if all(passed) else "not adopted"
                lines.append(f"\n{label}, every group of its rule: **{verdict}**")
    return lines
