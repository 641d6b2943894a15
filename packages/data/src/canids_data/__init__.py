"""canids-data: CAN captures → graphs → a verified Zarr v3 cache → lazy datasets, fast collate.

Names load on first use (PEP 562), as in ``canids_models``: ``import canids_data`` costs no
numpy, zarr or torch, so every command's ``--help`` answers at once; the cache machinery
imports zarr when it is first touched, :class:`CachedGraphDataset` torch (cache builds and
their worker processes never pay for that).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Static, as in canids_core: importlib.metadata costs ~0.1 s per process, paid by every
# command and every build worker (tests/test_public_api.py keeps it equal to the
# installed distribution's version).
__version__ = "0.4.3"

# public name -> the submodule that defines it
_LAZY: dict[str, str] = {
    "BUILTIN_DATASETS": "catalog",
    "EDGE_FEATURES": "feature_sets",
    "EXIT_CODES": "cache",
    "NODE_FEATURES": "feature_sets",
    "OOV_INDEX": "vocab",
    "READER_FORMATS": "readers",
    "SCHEMA_VERSION": "config",
    "BuildConfig": "config",
    "BuildProgress": "cache",
    "BuildResult": "cache",
    "CachedGraphDataset": "dataset",
    "CacheError": "errors",
    "CacheManager": "cache",
    "CanidsDataError": "errors",
    "CatalogError": "errors",
    "DatasetSpec": "catalog",
    "GraphArrays": "graphs",
    "MessageTable": "table",
    "Problem": "cache",
    "ReadReport": "table",
    "ReaderError": "errors",
    "SourceFile": "catalog",
    "SplitSizes": "cache",
    "VerifyReport": "cache",
    "VerifyStatus": "cache",
    "WriterError": "errors",
    "Vocabulary": "vocab",
    "build_graphs": "graphs",
    "detect_format": "readers",
    "discover_sources": "catalog",
    "get_dataset": "catalog",
    "is_test_split": "catalog",
    "load_datasets_file": "catalog",
    "read_capture": "readers",
    "resolve_root": "catalog",
}

__all__ = [
    "BUILTIN_DATASETS",
    "EDGE_FEATURES",
    "EXIT_CODES",
    "NODE_FEATURES",
    "OOV_INDEX",
    "READER_FORMATS",
    "SCHEMA_VERSION",
    "BuildConfig",
    "BuildProgress",
    "BuildResult",
    "CachedGraphDataset",
    "CacheError",
    "CacheManager",
    "CanidsDataError",
    "CatalogError",
    "DatasetSpec",
    "GraphArrays",
    "MessageTable",
    "Problem",
    "ReadReport",
    "ReaderError",
    "SourceFile",
    "SplitSizes",
    "VerifyReport",
    "VerifyStatus",
    "WriterError",
    "Vocabulary",
    "__version__",
    "build_graphs",
    "detect_format",
    "discover_sources",
    "get_dataset",
    "is_test_split",
    "load_datasets_file",
    "read_capture",
    "resolve_root",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canids_data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from .cache import (
        EXIT_CODES,
        BuildProgress,
        BuildResult,
        CacheManager,
        Problem,
        SplitSizes,
        VerifyReport,
        VerifyStatus,
    )
    from .catalog import (
        BUILTIN_DATASETS,
        DatasetSpec,
        SourceFile,
        discover_sources,
        get_dataset,
        is_test_split,
        load_datasets_file,
        resolve_root,
    )
    from .config import SCHEMA_VERSION, BuildConfig
    from .dataset import CachedGraphDataset
    from .errors import CacheError, CanidsDataError, CatalogError, ReaderError, WriterError
    from .feature_sets import EDGE_FEATURES, NODE_FEATURES
    from .graphs import GraphArrays, build_graphs
    from .readers import READER_FORMATS, detect_format, read_capture
    from .table import MessageTable, ReadReport
    from .vocab import OOV_INDEX, Vocabulary
