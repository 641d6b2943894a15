"""canids-core: what every canids package shares, with no torch, numpy or zarr.

The name rule, SLURM times and memory sizes, the one resources type, atomic writes, the
table printer, the config error format, the root error class, and the stage result with
its one success rule.
"""

from __future__ import annotations

from .atomic import atomic_file, atomic_write_bytes, atomic_write_json, atomic_write_text
from .config_errors import describe_validation_error, field_path
from .errors import CanidsError, CoreError
from .names import (
    NAME_MAX,
    NAME_RULE,
    NameRuleError,
    check_name,
    check_slurm_value,
    is_name,
    quoted_command,
    shown,
)
from .resources import Resources
from .slurm_time import (
    SlurmFormatError,
    format_memory,
    format_slurm_time,
    parse_memory,
    parse_slurm_time,
)
from .stage_result import (
    RESULT_PREFIX,
    STAGE_RESULT_VERSION,
    FailureInfo,
    StageReport,
    StageResult,
    find_report,
    format_report,
    parse_report,
    stage_succeeded,
)
from .tables import format_table

__version__ = "0.1.0"

__all__ = [
    "NAME_MAX",
    "NAME_RULE",
    "RESULT_PREFIX",
    "STAGE_RESULT_VERSION",
    "CanidsError",
    "CoreError",
    "FailureInfo",
    "NameRuleError",
    "Resources",
    "SlurmFormatError",
    "StageReport",
    "StageResult",
    "__version__",
    "atomic_file",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_name",
    "check_slurm_value",
    "describe_validation_error",
    "field_path",
    "find_report",
    "format_memory",
    "format_report",
    "format_slurm_time",
    "format_table",
    "is_name",
    "parse_memory",
    "parse_report",
    "parse_slurm_time",
    "quoted_command",
    "shown",
    "stage_succeeded",
]
