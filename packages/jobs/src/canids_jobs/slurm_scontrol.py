"""``scontrol show job -o``: one job's record, or every job the controller knows, parsed
from its ``key=value`` lines. One subprocess per call, failures as in
:mod:`canids_jobs.slurm_commands` (whose runner and id check these calls share)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .slurm_commands import _raise_failed, _run, check_ids

__all__ = ["parse_scontrol", "scontrol_all", "scontrol_show_job"]

# A key starts a word and ends at `=`; keys hold letters, digits and `_:/` (e.g.
# `AllocNode:Sid`, `CPUs/Task`, `ReqB:S:C:T`). Values may contain spaces (Command, Reason).
_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z][A-Za-z0-9_:/]*)=")


def parse_scontrol(text: str) -> list[dict[str, str]]:
    """Parse ``scontrol show job -o`` output: one dict per non-empty line, ``key -> value``
    as printed (``(null)`` kept). A value that itself contains `` word=`` is split there;
    no job field that we read does."""
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line or "=" not in line:
            continue
        keys = list(_KEY.finditer(line))
        record: dict[str, str] = {}
        for i, match in enumerate(keys):
            end = keys[i + 1].start() if i + 1 < len(keys) else len(line)
            record[match.group(1)] = line[match.end() : end].strip()
        records.append(record)
    return records


def scontrol_show_job(
    job_id: str, *, env: Mapping[str, str] | None = None
) -> dict[str, str] | None:
    """``scontrol show job -o JOB`` as a dict, or ``None`` when the controller does not
    know the job (never submitted, or finished more than ``MinJobAge`` ago)."""
    (job_id,) = check_ids([job_id])
    cmd = ["scontrol", "show", "job", "-o", job_id]
    proc = _run(cmd, env, check=False)
    if proc.returncode != 0 and "invalid job id" in proc.stderr.lower():
        return None
    if proc.returncode != 0:
        _raise_failed(proc)
    records = parse_scontrol(proc.stdout)
    base = job_id.split("_")[0]
    for record in records:
        if record.get("JobId") in (job_id, base):
            return record
    return records[0] if records else None


def scontrol_all(env: Mapping[str, str] | None) -> dict[str, dict[str, str]]:
    proc = _run(["scontrol", "show", "job", "-o"], env)
    return {r["JobId"]: r for r in parse_scontrol(proc.stdout) if "JobId" in r}
