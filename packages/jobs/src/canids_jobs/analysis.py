"""Failure correlations over the history: by type, stage, dataset, executor, node and
hour; hot nodes with a suggested ``--exclude``; hours that fail more; stages that keep
failing. Local and Ray stages are in the history beside SLURM jobs (their node is the
host that ran them).

Rates need the jobs that succeeded too, so everything is computed from the history's job
outcomes (one row per job, its latest attempt), not from the failure events alone.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from canids_core import format_table

from .history import History

__all__ = ["Analysis", "GroupRate", "RepeatedFailure", "analyze"]


@dataclass(frozen=True)
class GroupRate:
    """Failures among the jobs of one node (or hour): ``failures`` of ``jobs``."""

    subject: str
    jobs: int
    failures: int
    last_failure: float | None  # unix time
    types: dict[str, int]

    @property
    def rate(self) -> float:
        return self.failures / self.jobs if self.jobs else 0.0


@dataclass(frozen=True)
class RepeatedFailure:
    stage: str
    dataset: str
    size: str
    failures: int
    types: dict[str, int]
    last_failure: float


@dataclass
class Analysis:
    since: float
    until: float
    jobs: int
    failures: int
    by_type: dict[str, int]
    by_stage: dict[str, int]
    by_dataset: dict[str, int]
    by_node: dict[str, int]
    by_hour: dict[int, int]  # UTC hour of the failure → failures
    hot_nodes: list[GroupRate] = field(default_factory=list)
    hot_hours: list[GroupRate] = field(default_factory=list)
    repeated: list[RepeatedFailure] = field(default_factory=list)
    threshold: float = 0.5
    min_jobs: int = 3
    by_executor: dict[str, int] = field(default_factory=dict)  # slurm | local | ray

    @property
    def exclude(self) -> str | None:
        """The sbatch option that keeps the next jobs off the hot nodes."""
        return (
            "--exclude=" + ",".join(n.subject for n in self.hot_nodes) if self.hot_nodes else None
        )

    def to_json(self) -> dict[str, Any]:
        def rate(g: GroupRate) -> dict[str, Any]:
            return {**asdict(g), "rate": round(g.rate, 4)}

        return {
            "window": {"since": _iso(self.since), "until": _iso(self.until)},
            "jobs": self.jobs,
            "failures": self.failures,
            "by_type": self.by_type,
            "by_stage": self.by_stage,
            "by_dataset": self.by_dataset,
            "by_executor": self.by_executor,
            "by_node": self.by_node,
            "by_hour_utc": {str(h): n for h, n in self.by_hour.items()},
            "hot_nodes": [rate(g) for g in self.hot_nodes],
            "exclude": self.exclude,
            "hot_hours_utc": [rate(g) for g in self.hot_hours],
            "repeated_stage_failures": [asdict(r) for r in self.repeated],
            "thresholds": {"failure_rate": self.threshold, "min_jobs": self.min_jobs},
        }

    def report(self) -> str:
        """A text report for people."""
        head = (
            f"failures {_iso(self.since)} .. {_iso(self.until)}: {self.failures} of {self.jobs} "
            f"jobs"
        )
        parts = [head]
        for title, counts in (
            ("type", self.by_type),
            ("stage", self.by_stage),
            ("dataset", self.by_dataset),
            ("executor", self.by_executor),
            ("node", self.by_node),
        ):
            parts.append(format_table([title, "failures"], counts.items()) if counts else "")
        hours = " ".join(f"{h:02d}:{n}" for h, n in self.by_hour.items() if n)
        parts.append(f"failures by hour (UTC): {hours or '-'}")
        limit = f"failure rate >= {self.threshold:.0%} over >= {self.min_jobs} jobs"
        if self.hot_nodes:
            rows = [_rate_row(g) for g in self.hot_nodes]
            parts.append(f"hot nodes ({limit}):\n" + format_table(_RATE_HEAD, rows))
            parts.append(f"suggested: sbatch {self.exclude}")
        else:
            parts.append(f"hot nodes ({limit}): none")
        if self.hot_hours:
            rows = [_rate_row(g) for g in self.hot_hours]
            parts.append("hours that fail more (UTC):\n" + format_table(_RATE_HEAD, rows))
        for r in self.repeated:
            types = ", ".join(f"{k} {n}" for k, n in r.types.items())
            parts.append(
                f"repeated: {r.stage} on {r.dataset} ({r.size}) failed {r.failures} times "
                f"({types}), last {_iso(r.last_failure)}"
            )
        return "\n\n".join(p for p in parts if p)


_RATE_HEAD = ["subject", "jobs", "failures", "rate", "last failure (UTC)", "types"]


def _rate_row(g: GroupRate) -> list[object]:
    types = ", ".join(f"{k} {n}" for k, n in g.types.items())
    return [g.subject, g.jobs, g.failures, f"{100 * g.rate:.0f} %", _iso(g.last_failure), types]


def _iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _hour(ts: float) -> int:
    return dt.datetime.fromtimestamp(ts, dt.UTC).hour


def _ranked(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _rates(
    jobs: Iterable[dict[str, Any]], key: str, threshold: float, min_jobs: int
) -> list[GroupRate]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        if job[key] is not None:
            groups.setdefault(str(job[key]), []).append(job)
    hot = []
    for subject, members in groups.items():
        failed = [j for j in members if j["outcome"] != "completed"]
        g = GroupRate(
            subject,
            len(members),
            len(failed),
            max((j["at"] for j in failed), default=None),
            _ranked(Counter(str(j["failure_type"]) for j in failed)),
        )
        if g.jobs >= min_jobs and g.failures and g.rate >= threshold:
            hot.append(g)
    # The node that failed most often first; among equals, the one that failed last.
    return sorted(hot, key=lambda g: (-g.failures, -(g.last_failure or 0.0), g.subject))


def analyze(
    history: History,
    days: float = 7,
    *,
    now: float | None = None,
    threshold: float = 0.5,
    min_jobs: int = 3,
    repeat_min: int = 2,
    persist: bool = False,
) -> Analysis:
    """Failures of the last ``days``. A node (or hour) is hot when at least ``threshold``
    of its ``min_jobs`` or more jobs failed; a stage of one dataset and size repeats when
    it failed ``repeat_min`` times or more. ``persist`` writes the hot nodes and repeated
    failures to the history's ``correlations`` table."""
    until = time.time() if now is None else now
    since = until - days * 86400
    jobs = [j for j in history.jobs(since) if j["at"] <= until]
    # Never-ran jobs failed no node and no hour: they count by type, stage and dataset only.
    failed = [j for j in jobs if j["outcome"] != "completed"]
    ran = [j for j in jobs if j["outcome"] != "never_ran"]
    for j in ran:
        j["hour"] = f"{_hour(j['at']):02d}"

    def count(key: str) -> dict[str, int]:
        return _ranked(Counter(str(j[key]) for j in failed if j[key] is not None))

    by_hour = Counter(_hour(j["at"]) for j in failed if j["outcome"] == "failed")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for j in failed:
        groups.setdefault((str(j["stage"]), str(j["dataset"]), str(j["size"])), []).append(j)
    repeated = [
        RepeatedFailure(
            *key,
            failures=len(js),
            types=_ranked(Counter(str(j["failure_type"]) for j in js)),
            last_failure=max(j["at"] for j in js),
        )
        for key, js in groups.items()
        if len(js) >= repeat_min
    ]
    repeated.sort(key=lambda r: (-r.failures, -r.last_failure))
    result = Analysis(
        since,
        until,
        len(jobs),
        len(failed),
        count("failure_type"),
        count("stage"),
        count("dataset"),
        count("node"),
        {h: by_hour.get(h, 0) for h in range(24)},
        _rates(ran, "node", threshold, min_jobs),
        _rates(ran, "hour", threshold, min_jobs),
        repeated,
        threshold,
        min_jobs,
        count("executor"),
    )
    if persist:
        for g in result.hot_nodes:
            detail = f"types {g.types}"
            history.record_correlation("hot_node", g.subject, g.failures, g.jobs, detail=detail)
        for r in result.repeated:
            subject = f"{r.stage}/{r.dataset}/{r.size}"
            runs = sum(
                1
                for j in jobs
                if (j["stage"], j["dataset"], j["size"]) == (r.stage, r.dataset, r.size)
            )
            detail = f"types {r.types}"
            history.record_correlation("repeated_stage", subject, r.failures, runs, detail=detail)
    return result
