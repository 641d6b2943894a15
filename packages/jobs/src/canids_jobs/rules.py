"""The classifier's table: one row per rule, over the executor's verdict, the log or the
artifacts. One table for every executor: a local or Ray stage is judged by the same rows
as a SLURM job.

Priorities order the rows: the executor's verdict first (100s: SLURM's state, or the
signal that killed a process no scheduler watched), then log patterns (200s: CUDA OOM and
NCCL errors show only as FAILED), then artifact checks (300s: SLURM says COMPLETED, or
nothing is known, but the stage left no record or no artifact). Each row has a test on a
real log (``tests/logs/CASES.toml``) or a real killed process.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .tracebacks import parse_traceback

__all__ = ["RULES", "Evidence", "FailureType", "Hit", "Rule", "Source"]


class FailureType(enum.StrEnum):
    CUDA_OOM = "cuda_oom"
    HOST_OOM = "host_oom"
    TIMEOUT = "timeout"
    NODE_FAIL = "node_fail"
    PREEMPTED = "preempted"
    CANCELLED = "cancelled"
    DEPENDENCY_NEVER_SATISFIED = "dependency_never_satisfied"
    MISSING_UPSTREAM_ARTIFACT = "missing_upstream_artifact"
    MISSING_OR_STALE_CACHE = "missing_or_stale_cache"
    # A done input the stage may not read (canids_models.lineage): another config, another
    # build of the cache, or made before its own inputs were made again.
    UPSTREAM_ARTIFACT_OF_ANOTHER_LINEAGE = "upstream_artifact_of_another_lineage"
    GPU_RUNTIME = "gpu_runtime"  # NCCL and CUDA runtime/driver errors
    PYTHON_EXCEPTION = "python_exception"
    ARTIFACTS_MISSING = "artifacts_missing"
    NO_STAGE_RESULT = "no_stage_result"
    UNKNOWN = "unknown"


class Source(enum.StrEnum):
    SLURM_STATE = "slurm_state"
    EXECUTOR = "executor"  # how a local or Ray stage's process ended
    LOG = "log"
    ARTIFACT = "artifact"


@dataclass(frozen=True)
class Evidence:
    """What one rule looks at, normalised once."""

    state: str | None  # COMPLETED, FAILED, ... (upper case), None when unknown
    reason: str  # e.g. DependencyNeverSatisfied
    exit_code: str | None  # sacct's EXIT:SIGNAL (local and Ray processes are written so too)
    text: str  # the latest attempt's log, result lines replaced by the result's error
    result: Mapping[str, Any] | None
    artifacts_ok: bool | None
    executor: str | None = None  # local | ray | slurm; None: a folder of SLURM outputs

    @property
    def signal(self) -> int | None:
        """The signal that ended the process, from ``EXIT:SIGNAL`` (``None``: none)."""
        _, sep, sig = (self.exit_code or "").partition(":")
        return int(sig) if sep and sig.isdigit() and int(sig) else None


@dataclass(frozen=True)
class Hit:
    detail: str
    evidence_line: str
    facts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One row of the table: a regex over the log, or a predicate over the evidence."""

    name: str
    type: FailureType
    source: Source
    priority: int
    explanation: str
    pattern: re.Pattern[str] | None = None
    predicate: Callable[[Evidence], Hit | None] | None = None
    extra: re.Pattern[str] | None = None  # searched for a fix command anywhere in the log

    def apply(self, ev: Evidence) -> Hit | None:
        if self.predicate is not None:
            return self.predicate(ev)
        assert self.pattern is not None
        matches = list(self.pattern.finditer(ev.text))
        if not matches:
            return None
        first = matches[0]
        start = ev.text.rfind("\n", 0, first.start()) + 1
        end = ev.text.find("\n", first.end())
        line = ev.text[start : end if end >= 0 else None].strip()
        # Named groups of the first match; trailing digits only disambiguate alternatives.
        facts: dict[str, str] = {}
        for key, value in first.groupdict().items():
            if value is not None:
                facts.setdefault(key.rstrip("0123456789"), value)
        # Every fix command the log names (preflight lists one per missing artifact).
        commands = dict.fromkeys(
            v for m in matches for k, v in m.groupdict().items() if k.startswith("command") and v
        )
        if self.extra is not None and not commands:
            commands = dict.fromkeys(m["command"] for m in self.extra.finditer(ev.text))
        if commands:
            facts["command"] = next(iter(commands))
            facts["commands"] = "\n".join(commands)
        return Hit(self.explanation, line[:400], facts)


def _state_rule(
    states: tuple[str, ...], signal: str | None = None
) -> Callable[[Evidence], Hit | None]:
    def check(ev: Evidence) -> Hit | None:
        by_signal = signal is not None and (ev.exit_code or "").endswith(f":{signal}")
        if ev.state in states or by_signal:
            line = f"SLURM state {ev.state or '?'}, exit code {ev.exit_code or '?'}"
            return Hit("", line)
        return None

    return check


def _signal_rule(signals: tuple[int, ...]) -> Callable[[Evidence], Hit | None]:
    """A local or Ray stage's process killed by one of ``signals``: no scheduler saw why,
    so the signal is the executor's verdict (a stage that reported its own end is not
    judged by how its process was reaped)."""

    def check(ev: Evidence) -> Hit | None:
        finished = (ev.result or {}).get("status") is not None
        if ev.executor in ("local", "ray") and ev.signal in signals and not finished:
            return Hit("", f"{ev.executor} stage process killed by signal {ev.signal}")
        return None

    return check


def _never_satisfied(ev: Evidence) -> Hit | None:
    if "DependencyNeverSatisfied" in ev.reason:
        return Hit("", f"SLURM state {ev.state} ({ev.reason})")
    return None


def _python_exception(ev: Evidence) -> Hit | None:
    tb = parse_traceback(ev.text)
    res = ev.result or {}
    kind = str(res.get("error_type") or (tb.type if tb else ""))
    if not kind:
        return None
    frame = str(res.get("last_frame") or (tb.last_frame if tb else ""))
    message = str(res.get("error") or (tb.message if tb else "")).split("\n")[0]
    line = tb.line if tb else f"{kind}: {message}"
    where = f" at {frame}" if frame else ""
    facts = {"error_type": kind, "last_frame": frame, "message": message}
    return Hit(f"{kind}{where}: {message}", line[:400], facts)


def _empty_output(ev: Evidence) -> Hit | None:
    # Folder mode only: with a SLURM state, a job still PENDING is waiting, not failed; a
    # local or Ray stage with an empty log did start (its executor saw it end).
    folder = ev.executor in (None, "slurm") and ev.state is None
    if folder and not ev.text.strip() and not ev.result:
        return Hit("", "(no output at all)")
    return None


def _artifacts_missing(ev: Evidence) -> Hit | None:
    res = ev.result or {}
    if res.get("status") == "completed" and ev.artifacts_ok is False:
        return Hit("", f"{res.get('stage')} of {res.get('dataset')} ({res.get('size')})")
    return None


def _no_stage_result(ev: Evidence) -> Hit | None:
    if ev.state in (None, "COMPLETED") and (ev.result or {}).get("status") != "completed":
        tail = [ln.strip() for ln in ev.text.strip().splitlines() if ln.strip()]
        return Hit("", tail[-1][:400] if tail else "(empty output)")
    return None


# slurmstepd writes "*** JOB 12 ON node CANCELLED AT <time> [DUE TO ...] ***" (req.c);
# SLURM before 15.08 had no "ON node"; the daemon may be named "slurmstepd-<node>".
_STEPD = r"\*\*\* (?:JOB|STEP) (?P<job>\S+) (?:ON (?P<node>\S+) )?CANCELLED AT (?P<at>\S+)"
_RX = re.MULTILINE

# fmt: off
RULES: tuple[Rule, ...] = tuple(
    sorted(
        (
            Rule("dependency_state", FailureType.DEPENDENCY_NEVER_SATISFIED, Source.SLURM_STATE,
                 100, "its dependency can never be satisfied (a parent failed)",
                 predicate=_never_satisfied),
            Rule("oom_state", FailureType.HOST_OOM, Source.SLURM_STATE, 110,
                 "host memory limit: the cgroup OOM killer ended the job (exit 0:125)",
                 predicate=_state_rule(("OUT_OF_MEMORY",), signal="125")),
            Rule("sigkill_no_scheduler", FailureType.HOST_OOM, Source.EXECUTOR, 115,
                 "killed by SIGKILL with no scheduler watching: most often the kernel's OOM "
                 "killer (see `dmesg` or `journalctl -k` on the node), else someone ran kill -9",
                 predicate=_signal_rule((9,))),
            Rule("timeout_state", FailureType.TIMEOUT, Source.SLURM_STATE, 120,
                 "walltime limit reached", predicate=_state_rule(("TIMEOUT", "DEADLINE"))),
            Rule("node_fail_state", FailureType.NODE_FAIL, Source.SLURM_STATE, 130,
                 "the node failed under the job",
                 predicate=_state_rule(("NODE_FAIL", "BOOT_FAIL"))),
            Rule("preempted_state", FailureType.PREEMPTED, Source.SLURM_STATE, 140,
                 "preempted by a higher-priority job", predicate=_state_rule(("PREEMPTED",))),
            Rule("cancelled_state", FailureType.CANCELLED, Source.SLURM_STATE, 150,
                 "cancelled (scancel, or a dependency cancelled with --kill-on-invalid-dep)",
                 predicate=_state_rule(("CANCELLED",))),
            Rule("terminated_no_scheduler", FailureType.CANCELLED, Source.EXECUTOR, 155,
                 "stopped by SIGTERM, SIGINT or SIGHUP (a person, Ctrl-C, a closed terminal or "
                 "a supervisor) with no scheduler watching",
                 predicate=_signal_rule((1, 2, 15))),
            Rule("time_limit_log", FailureType.TIMEOUT, Source.LOG, 200,
                 "walltime limit reached (slurmstepd)",
                 re.compile(_STEPD + r" DUE TO TIME LIMIT", _RX)),
            Rule("preemption_log", FailureType.PREEMPTED, Source.LOG, 201,
                 "preempted (slurmstepd)", re.compile(_STEPD + r" DUE TO PREEMPTION", _RX)),
            Rule("requeue_log", FailureType.PREEMPTED, Source.LOG, 202,
                 "requeued (preemption, node failure or scontrol requeue); no later attempt "
                 "has written output", re.compile(_STEPD + r" DUE TO JOB REQUEUE", _RX)),
            Rule("node_failure_log", FailureType.NODE_FAIL, Source.LOG, 203,
                 "the node failed under the job (slurmstepd)",
                 re.compile(_STEPD + r" DUE TO NODE FAILURE", _RX)),
            Rule("cuda_oom_log", FailureType.CUDA_OOM, Source.LOG, 210,
                 "GPU memory exhausted (CUDA out of memory)",
                 re.compile(r"torch\.(?:cuda\.)?OutOfMemoryError|CUDA out of memory"
                            r"(?:\. Tried to allocate (?P<tried>[\d.]+ [KMGT]?i?B))?"
                            r"|CUDA error: out of memory", _RX)),
            Rule("oom_kill_log", FailureType.HOST_OOM, Source.LOG, 211,
                 "host memory limit: the cgroup OOM killer ended a process",
                 re.compile(r"Detected \d+ oom[-_]kill event|task \d+: Out Of Memory"
                            r"|Exceeded (?:job|step) memory limit", _RX)),
            Rule("memory_error_log", FailureType.HOST_OOM, Source.LOG, 212,
                 "host memory exhausted (Python MemoryError)",
                 re.compile(r"^MemoryError\b", _RX)),
            Rule("gpu_runtime_log", FailureType.GPU_RUNTIME, Source.LOG, 220,
                 "NCCL or CUDA runtime error (often one bad GPU or node)",
                 re.compile(r"NCCL error|NCCL WARN|nccl\w*Error|DistBackendError"
                            # A device-side assert is a bug in the code (an index out of
                            # range), not the GPU: it stays a Python exception.
                            r"|CUDA error: (?!out of memory|device-side assert)"
                            r"|CUDA driver version is insufficient"
                            r"|no CUDA-capable device|CUBLAS_STATUS_\w+|CUDNN_STATUS_\w+", _RX)),
            # Before the artifact rule: preflight reports both, and no upstream stage can run
            # until the cache is fixed.
            Rule("cache_log", FailureType.MISSING_OR_STALE_CACHE, Source.LOG, 230,
                 "the graph cache is missing, partial, stale or corrupt",
                 re.compile(r"(?:graph cache of (?P<dataset>\S+) is|cache (?P<store>\S+) is "
                            r"not usable \()\s?(?P<status>missing|incomplete|stale|"
                            r"config_mismatch|corrupt)", _RX),
                 extra=re.compile(r"fix: (?P<command>canids-cache build[^\n]*)")),
            Rule("upstream_artifact_log", FailureType.MISSING_UPSTREAM_ARTIFACT, Source.LOG, 231,
                 "an upstream artifact is not done (its stage failed or has not run yet)",
                 re.compile(r"stage (?P<stage>\w+) needs artifact (?P<artifact>\w+) "
                            r"\((?P<size>\w+)\)(?:: .*? is not done; produced by stage "
                            r"(?P<producers>\w+(?: or \w+)*): (?P<command>canids-train[^\n]*))?"
                            r"|artifact (?P<artifact2>\w+) \((?P<size2>\w+)\) of \S+ "
                            r"(?:is not done|was trained on a cache with another)[^\n]*?"
                            r"(?:(?:run|retrain it): (?P<command2>canids-train[^\n]*))?$", _RX)),
            # After the missing artifact: a stage with an input missing and another refused
            # can run only once the missing one is made.
            Rule("lineage_log", FailureType.UPSTREAM_ARTIFACT_OF_ANOTHER_LINEAGE, Source.LOG,
                 232, "an upstream artifact is done but may not be read: made under another "
                 "config, on another build of the cache, or before its own inputs were made "
                 "again",
                 re.compile(r"artifact (?P<artifact>\w+) \((?P<size>\w+)\) of (?P<dataset>\S+) "
                            r"(?:\([^)\n]*\) )?was made (?P<how>under another config|on another "
                            r"build|from \S+ finished)[^\n]*?(?:under this one|on this cache|"
                            r"again from it): (?P<command>canids-train [^\n]*?) \(with "
                            r"[^)\n]*\)(?:, or give the stages that read it its values: "
                            r"(?P<adopt>[^\n]*))?$", _RX)),
            Rule("dependency_log", FailureType.DEPENDENCY_NEVER_SATISFIED, Source.LOG, 240,
                 "its dependency can never be satisfied (a parent failed)",
                 re.compile(r"DependencyNeverSatisfied", _RX)),
            Rule("empty_output", FailureType.DEPENDENCY_NEVER_SATISFIED, Source.LOG, 241,
                 "no output at all: the job never started (in a chain: its afterok parent "
                 "failed; a folder can only infer this, SLURM's reason confirms it)",
                 predicate=_empty_output),
            Rule("cancelled_log", FailureType.CANCELLED, Source.LOG, 250,
                 "cancelled (scancel)", re.compile(_STEPD + r" \*\*\*", _RX)),
            Rule("python_exception", FailureType.PYTHON_EXCEPTION, Source.LOG, 290,
                 "a Python exception ended the stage", predicate=_python_exception),
            Rule("artifacts_missing", FailureType.ARTIFACTS_MISSING, Source.ARTIFACT, 300,
                 "the stage says completed but its artifact is not done where it should be",
                 predicate=_artifacts_missing),
            Rule("no_stage_result", FailureType.NO_STAGE_RESULT, Source.ARTIFACT, 310,
                 "the job ended without a completed CANIDS-STAGE-RESULT line (killed without a "
                 "SLURM message, output lost, or the script failed before canids-train)",
                 predicate=_no_stage_result),
        ),
        key=lambda r: r.priority,
    )
)
# fmt: on
