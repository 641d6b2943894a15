"""The test splits under ``fusion.cut_units_at=capture`` (or ``capture_scale``) beside the
default, on the same detectors: a check read after the candidate's verdict, never a choice.

    uv run python benchmarks/capture_units.py --data ../shared/data/real \\
        --out benchmarks/out/capture_units [--datasets set_01 hcrl_sa] [--seeds 0 1 2] \\
        [--units capture|capture_scale]

The candidates (canids-models 0.24.0's opt-in, ``capture``: under the calibrated protocol
each detector's unit in the cut fusions is at least its capture's own 0.98 quantile of
its calibration windows; 0.29.0's, ``capture_scale``: its frozen cut in the capture's own
scale) are judged held out by dataset (``dataset_holdout.py --variants sensitive
capture_units`` or ``capture_scale``), where no test split is read. This script shows
what one would move on hcrl_sa's and set_01's test splits, for the teacher. Per dataset
and seed, the teacher pipeline runs once under the current default
(``runs/<dataset>-s<seed>``), then the fusion and evaluate stages again with the option
on copies of its detectors and of its held-out family runs' detectors
(``runs/<dataset>-capture-s<seed>``, or ``-capture_scale-``). Finished stages are reused.

Printed per dataset: both sets' tables and goal lines (``results_tables.py``: the chosen
fusion's held-out F1 per split and protocol, mean ± std over the seeds; each goal it
misses) and every cell that differs between the two, with how many are identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import option_check
from _bench import start_out
from detection_ablation import build_cache, run_arguments
from family_select import write_outputs

UNITS = ("capture", "capture_scale")  # the opt-in values of fusion.cut_units_at


def paired(
    dataset: str, cache: Path, seed: int, out: Path, log: Path, units: str = "capture"
) -> tuple[Path, Path]:
    """The default teacher run folder and the one with ``fusion.cut_units_at=<units>`` on
    copies of its detectors and of its family runs' detectors (the families rule refits
    each family's fusion under the option): ``option_check.paired``."""
    option = (units, [f"fusion.cut_units_at={units}"])
    return option_check.paired(dataset, cache, seed, out, log, option)


def lines_for(
    dataset: str, pairs: list[tuple[Path, Path]], units: str = "capture"
) -> tuple[list[str], dict[str, Any]]:
    """The tables, goal lines and differing cells of one dataset's pairs."""
    heading = f"fusion.cut_units_at={units}"
    return option_check.lines_for(dataset, "teacher", pairs, units, heading)


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/capture_units", [0, 1, 2])
    ap.add_argument("--units", choices=UNITS, default="capture")
    args = ap.parse_args()
    out, log = start_out(args.out, "capture_units")
    root = Path(args.data).resolve()
    lines: list[str] = []
    data: dict[str, Any] = {}
    for dataset in args.datasets:
        cache = build_cache(dataset, root, out, log)
        pairs = [paired(dataset, cache, s, out, log, args.units) for s in args.seeds]
        more, data[dataset] = lines_for(dataset, pairs, args.units)
        lines += more
    write_outputs(out, "capture_units", data, lines)


if __name__ == "__main__":
    main()
