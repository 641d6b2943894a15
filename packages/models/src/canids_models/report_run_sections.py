"""The run report's run-level sections: the graph-size profile of the cache's train split
(canids-batching's profiler) and the commands that reproduce the run."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

from canids_core import HtmlPage

from .artifacts import ArtifactStore
from .report_data import RunData, reproduce_commands

__all__ = ["commands_section", "graph_profile", "number", "profile_section"]


def number(value: Any, digits: int = 3) -> str:
    """A report cell: ``undefined`` for None, ``digits`` decimals, thousands separated."""
    if value is None:
        return "undefined"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def profile_section(page: HtmlPage, profile: Any, png: bytes | None, note: str) -> None:
    sec = page.section("Graph-size profile (train split)", kind="profile")
    if profile is None or png is None:
        sec.paragraph(f"Not drawn: {note}", note=True)
        return
    sec.image(png, alt="graph-size profile of the train split")
    rows = [
        [what, number(s.count), number(s.mean, 1), number(s.p95, 1), number(s.max), number(s.cv, 2)]
        for what, s in (("nodes", profile.nodes), ("edges", profile.edges))
    ]
    sec.table(["per graph", "graphs", "mean", "p95", "max", "CV"], rows)
    r = profile.recommendation
    sec.paragraph(f"Recommended batching: {r.strategy} {r.key}={r.value} ({r.reason})")


def _wrapped(command: list[str], width: int = 96) -> str:
    """A shell-quoted command, an option and its value kept together, continued with
    backslashes before ``width`` columns."""
    units, i = [], 0
    while i < len(command):
        word = shlex.quote(command[i])
        if (
            command[i].startswith("--")
            and i + 1 < len(command)
            and not command[i + 1].startswith("--")
        ):
            word, i = f"{word} {shlex.quote(command[i + 1])}", i + 1
        units.append(word)
        i += 1
    lines, line = [], ""
    for unit in units:
        if line and len(line) + 1 + len(unit) > width:
            lines.append(line + " \\")
            line = "    " + unit
        else:
            line = f"{line} {unit}" if line else unit
    return "\n".join([*lines, line])


def commands_section(page: HtmlPage, data: RunData, cache_dir: Path, store: ArtifactStore) -> None:
    sec = page.section("Reproduce", kind="commands")
    sec.code("\n".join(_wrapped(c) for c in reproduce_commands(data)))
    sec.paragraph(
        f"This run read the cache in {cache_dir} and wrote to "
        f"{store.runs_dir}; add --cache-dir and --runs-dir to use other folders. Each stage's "
        "full resolved config is recorded in its artifact's folder.",
        note=True,
    )


def graph_profile(
    cache_dir: Path | None, dataset: str, check_sources: bool
) -> tuple[Any, bytes | None, dict[str, Any] | None, str]:
    """(profile, its PNG, the cache manifest, why not) of the cache's train split."""
    from canids_batching import BatchingError, plot_profile, profile_sizes
    from canids_data import CacheManager, CanidsDataError

    mgr = CacheManager(cache_dir)
    manifest = None
    try:
        report = mgr.verify(dataset, check_sources=check_sources)
        manifest = report.manifest.data if report.manifest is not None else None
        report.raise_for_status()
        sizes = mgr.sizes(dataset, "train", check_sources=check_sources)
        profile = profile_sizes(
            sizes.nodes,
            sizes.edges,
            sizes.bytes_per_graph,
            name=f"{dataset}/train",
            node_feature_dim=sizes.node_feature_dim,
            edge_feature_dim=sizes.edge_feature_dim,
        )
        with tempfile.TemporaryDirectory() as tmp:  # the PNG canids-profile --plot draws
            png = plot_profile(profile, Path(tmp) / "profile.png").read_bytes()
    except (CanidsDataError, BatchingError) as exc:
        return None, None, manifest, str(exc)
    return profile, png, manifest, ""
