"""canids-data: CAN captures → graphs → a verified Zarr v3 cache → lazy datasets, fast collate."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("canids-data")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

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
    load_datasets_file,
    resolve_root,
)
from .config import SCHEMA_VERSION, BuildConfig
from .errors import CacheError, CanidsDataError, CatalogError, ReaderError, WriterError
from .graphs import EDGE_FEATURES, NODE_FEATURES, GraphArrays, build_graphs
from .readers import READER_FORMATS, detect_format, read_capture
from .table import MessageTable, ReadReport
from .vocab import OOV_INDEX, Vocabulary

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
    "load_datasets_file",
    "read_capture",
    "resolve_root",
]


def __getattr__(name: str) -> object:
    # CachedGraphDataset needs torch and torch_geometric (seconds to import): load it on
    # first use so cache builds and their worker processes never pay for it.
    if name == "CachedGraphDataset":
        from .dataset import CachedGraphDataset

        return CachedGraphDataset
    raise AttributeError(f"module 'canids_data' has no attribute {name!r}")
