"""canids-core: what every canids package shares, with no torch, numpy or zarr.

The name rule, SLURM times and memory sizes, the one resources type, atomic writes, the
table printer, the HTML report page, the config error format, the root error class, and
the stage result with its one success rule.

Names load on first use (PEP 562): the error class, the table printer and the name rule
are standard library only, so a command's ``--help`` that imports them does not pay for
pydantic, which the resources, config-error and stage-result modules need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# public name -> the submodule that defines it
_LAZY: dict[str, str] = {
    "atomic_file": "atomic",
    "atomic_write_bytes": "atomic",
    "atomic_write_json": "atomic",
    "atomic_write_text": "atomic",
    "describe_validation_error": "config_errors",
    "field_path": "config_errors",
    "HtmlPage": "html_page",
    "HtmlSection": "html_page",
    "png_data_uri": "html_page",
    "CanidsError": "errors",
    "CoreError": "errors",
    "NAME_MAX": "names",
    "NAME_RULE": "names",
    "NameRuleError": "names",
    "check_name": "names",
    "check_slurm_value": "names",
    "is_name": "names",
    "quoted_command": "names",
    "shown": "names",
    "Resources": "resources",
    "SlurmFormatError": "slurm_time",
    "format_memory": "slurm_time",
    "format_slurm_time": "slurm_time",
    "parse_memory": "slurm_time",
    "parse_slurm_time": "slurm_time",
    "ATTEMPT_MARK": "stage_result",
    "FailureInfo": "stage_result",
    "RESULT_PREFIX": "stage_result",
    "STAGE_RESULT_VERSION": "stage_result",
    "StageReport": "stage_result",
    "StageResult": "stage_result",
    "find_report": "stage_result",
    "format_report": "stage_result",
    "parse_report": "stage_result",
    "stage_succeeded": "stage_result",
    "format_table": "tables",
}

__all__ = [
    "ATTEMPT_MARK",
    "NAME_MAX",
    "NAME_RULE",
    "RESULT_PREFIX",
    "STAGE_RESULT_VERSION",
    "CanidsError",
    "CoreError",
    "FailureInfo",
    "HtmlPage",
    "HtmlSection",
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
    "png_data_uri",
    "quoted_command",
    "shown",
    "stage_succeeded",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canids_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from .atomic import atomic_file, atomic_write_bytes, atomic_write_json, atomic_write_text
    from .config_errors import describe_validation_error, field_path
    from .errors import CanidsError, CoreError
    from .html_page import HtmlPage, HtmlSection, png_data_uri
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
        ATTEMPT_MARK,
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
