"""``CachedGraphDataset``: a verified cache split as torch_geometric graphs, lazily.

It never builds a cache: a missing, partial, stale or differently configured cache is
a :class:`CacheError` that names the command that fixes it. ``subset`` returns views
that share one store, and ``collate`` assembles a ``Batch`` straight from the flat
arrays (vectorised gather and offset shift), not graph by graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from canids_core import check_name, quoted_command
from torch.utils.data import Dataset
from torch_geometric.data import Batch, Data

from .cache._io import dataset_dir, resolve_cache_dir
from .cache.chunks import ArraySpec, read_array
from .cache.manifest import Manifest
from .cache.store import SPLIT_ARRAYS, stored_spec
from .cache.verify import verify_cache
from .config import BuildConfig
from .errors import CacheError
from .graphs import _ranges
from .lazy import LazyArray
from .vocab import Vocabulary

__all__ = ["CachedGraphDataset", "SplitStore"]


class SplitStore:
    """The arrays of one split: pointers and per-graph values in memory, the rest lazy.

    Every array read here is read through the checked chunk reader: a missing chunk file
    or one that does not decode is a :class:`CacheError` naming the array and ``fix``,
    and the pointers are checked against the node and edge arrays they index.
    """

    def __init__(self, store: Path, split: str, *, fix: str | None = None) -> None:
        fix = fix or quoted_command(
            [
                "canids-cache",
                "verify",
                "--full",
                "--dataset",
                store.name,
                "--cache-dir",
                str(store.parent),
            ]
        )
        specs: dict[str, ArraySpec] = {}
        for name in SPLIT_ARRAYS:
            try:
                specs[name] = stored_spec(store, split, name)
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                raise CacheError(
                    f"{split}/{name}: cannot read its metadata in {store / split / name} "
                    f"({type(exc).__name__}: {exc}); the cache is damaged",
                    status="corrupt",
                    fix=fix,
                ) from None

        def whole(name: str) -> np.ndarray:
            return read_array(store / split / name, specs[name], where=f"{split}/{name}", fix=fix)

        def lazy(name: str) -> LazyArray:
            return LazyArray(store / split / name, specs[name], where=f"{split}/{name}", fix=fix)

        self.node_ptr = whole("node_ptr")
        self.edge_ptr = whole("edge_ptr")
        self.y = whole("y")
        self.graph_source = whole("graph_source")
        self.window_start = whole("window_start")
        self.window_end = whole("window_end")
        self.x = lazy("x")
        self.node_id = lazy("node_id")
        self.node_y = lazy("node_y")
        self.edge_index = lazy("edge_index")
        self.edge_attr = lazy("edge_attr")
        _check_pointers(split, self.node_ptr, self.x.rows, "node_ptr", fix)
        _check_pointers(split, self.edge_ptr, self.edge_attr.rows, "edge_ptr", fix)
        graphs = len(self.y)
        for name in ("graph_source", "window_start", "window_end"):
            if len(getattr(self, name)) != graphs:
                raise CacheError(
                    f"{split}/{name}: {len(getattr(self, name))} rows for {graphs} graphs",
                    status="corrupt",
                    fix=fix,
                )
        if len(self.node_ptr) != graphs + 1:
            raise CacheError(
                f"{split}/node_ptr: {len(self.node_ptr)} entries for {graphs} graphs",
                status="corrupt",
                fix=fix,
            )

    def __len__(self) -> int:
        return len(self.y)


def _check_pointers(split: str, ptr: np.ndarray, rows: int, name: str, fix: str) -> None:
    """Offsets start at 0, never decrease and end at the row count they index."""
    if len(ptr) == 0 or ptr[0] != 0 or ptr[-1] != rows or (np.diff(ptr) < 0).any():
        raise CacheError(
            f"{split}/{name}: offsets are not a valid index of {rows} rows (they must start "
            "at 0, never decrease and end at the row count); the cache is damaged",
            status="corrupt",
            fix=fix,
        )


class CachedGraphDataset(Dataset):
    """Graphs of ``split`` in the cache of ``dataset`` under ``cache_dir``.

    Opening runs a quick verify (``check_sources=False`` skips the comparison with the
    raw captures, e.g. on a node that only has the cache; ``config`` checks the build
    config too).
    """

    def __init__(
        self,
        cache_dir: str | Path | None,
        dataset: str,
        split: str,
        *,
        config: BuildConfig | None = None,
        root: str | Path | None = None,
        check_sources: bool = True,
        _store: SplitStore | None = None,
        _index: np.ndarray | None = None,
        _manifest: Manifest | None = None,
    ) -> None:
        self.cache_dir = resolve_cache_dir(cache_dir)
        self.dataset = check_name("dataset", dataset)
        self.split = split
        if _store is None or _manifest is None:
            report = verify_cache(
                self.cache_dir,
                dataset,
                expected_config=config,
                root=Path(root).resolve() if root else None,
                check_sources=check_sources,
                splits=[split],
            )
            if report.manifest is not None and split not in report.manifest.splits:
                raise CacheError(
                    f"split {split!r} is not in the {dataset} cache at {report.store}; it has: "
                    + ", ".join(report.manifest.splits),
                    status="incomplete",
                    fix=quoted_command(
                        ["canids-cache", "status", "--cache-dir", str(self.cache_dir)]
                    ),
                )
            report.raise_for_status()
            assert report.manifest is not None
            _manifest = report.manifest
            _store = SplitStore(dataset_dir(self.cache_dir, dataset), split, fix=report.fix)
        self.manifest = _manifest
        self._store = _store
        self._index = _index

    # ----------------------------------------------------------------- views
    @property
    def indices(self) -> np.ndarray:
        """Positions of this view's graphs in the split."""
        return np.arange(len(self._store)) if self._index is None else self._index

    def __len__(self) -> int:
        return len(self._store) if self._index is None else len(self._index)

    def _abs(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        n = len(self)
        raw = np.asarray(indices)
        if raw.dtype == np.bool_:
            # A mask selects; cast to int it would silently mean positions 0 and 1.
            if raw.shape != (n,):
                raise IndexError(
                    f"a boolean mask over {n} graphs needs shape ({n},), got {raw.shape}"
                )
            idx = np.flatnonzero(raw)
        elif raw.size == 0:
            idx = np.zeros(0, np.int64)
        elif not np.issubdtype(raw.dtype, np.integer):
            raise TypeError(f"graph indices must be integers or a boolean mask, got {raw.dtype}")
        else:
            idx = raw.astype(np.int64).reshape(-1)
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index out of range for a dataset of {n} graphs")
        idx = np.where(idx < 0, idx + n, idx)
        return idx if self._index is None else self._index[idx]

    def subset(self, indices: Sequence[int] | np.ndarray) -> CachedGraphDataset:
        """A view of some graphs: shares this dataset's store, copies no graph data."""
        return CachedGraphDataset(
            self.cache_dir,
            self.dataset,
            self.split,
            _store=self._store,
            _index=self._abs(indices),
            _manifest=self.manifest,
        )

    # ----------------------------------------------------------------- metadata
    @property
    def vocabulary(self) -> Vocabulary:
        return self.manifest.vocabulary

    @property
    def num_node_features(self) -> int:
        return len(self.manifest.data["node_features"])

    @property
    def num_edge_features(self) -> int:
        return len(self.manifest.data["edge_features"])

    def sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Node and edge counts per graph, from the pointer arrays alone."""
        idx = self.indices
        s = self._store
        return (s.node_ptr[idx + 1] - s.node_ptr[idx]), (s.edge_ptr[idx + 1] - s.edge_ptr[idx])

    def labels(self) -> np.ndarray:
        return self._store.y[self.indices]

    def sources(self) -> np.ndarray:
        """Index into ``manifest.sources`` of each graph's capture."""
        return self._store.graph_source[self.indices]

    def window_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) timestamps of each graph's window: its first and last message."""
        return self._store.window_start[self.indices], self._store.window_end[self.indices]

    def capture_starts(self) -> np.ndarray:
        """Per graph, the timestamp of the first message of its capture (from the manifest):
        where a deployed detector's clean start begins."""
        first = np.array(
            [float(s.get("first_timestamp", np.nan)) for s in self.manifest.data["sources"]]
        )
        return first[self.sources()]

    # ----------------------------------------------------------------- graphs
    def __getitem__(self, i: int) -> Data:
        (a,) = self._abs([i])
        s = self._store
        n0, n1 = int(s.node_ptr[a]), int(s.node_ptr[a + 1])
        e0, e1 = int(s.edge_ptr[a]), int(s.edge_ptr[a + 1])
        nodes, edges = np.arange(n0, n1), np.arange(e0, e1)
        return Data(
            x=torch.from_numpy(s.x.take(nodes)),
            edge_index=torch.from_numpy(s.edge_index.take(edges).astype(np.int64)),
            edge_attr=torch.from_numpy(s.edge_attr.take(edges)),
            y=torch.tensor([int(s.y[a])], dtype=torch.long),
            node_id=torch.from_numpy(s.node_id.take(nodes).astype(np.int64)),
            node_y=torch.from_numpy(s.node_y.take(nodes).astype(np.int64)),
            source=torch.tensor([int(s.graph_source[a])], dtype=torch.long),
            window_start=torch.tensor([float(s.window_start[a])], dtype=torch.float64),
        )

    def collate(self, indices: Sequence[int] | np.ndarray) -> Batch:
        """A ``Batch`` of the graphs at ``indices`` (positions in this view).

        Equal to ``Batch.from_data_list([self[i] for i in indices])``, built with one
        gather per array instead of one object per graph.
        """
        a = self._abs(indices)
        s = self._store
        nn = s.node_ptr[a + 1] - s.node_ptr[a]
        ne = s.edge_ptr[a + 1] - s.edge_ptr[a]
        nodes = _ranges(s.node_ptr[a], nn)
        edges = _ranges(s.edge_ptr[a], ne)
        ptr = np.concatenate(([0], np.cumsum(nn)))
        eptr = np.concatenate(([0], np.cumsum(ne)))
        b = len(a)
        edge_index = s.edge_index.take(edges).astype(np.int64)
        edge_index += np.repeat(ptr[:-1], ne)
        batch = Batch(
            x=torch.from_numpy(s.x.take(nodes)),
            edge_index=torch.from_numpy(edge_index),
            edge_attr=torch.from_numpy(s.edge_attr.take(edges)),
            y=torch.from_numpy(s.y[a].astype(np.int64)),
            node_id=torch.from_numpy(s.node_id.take(nodes).astype(np.int64)),
            node_y=torch.from_numpy(s.node_y.take(nodes).astype(np.int64)),
            source=torch.from_numpy(s.graph_source[a].astype(np.int64)),
            window_start=torch.from_numpy(s.window_start[a].astype(np.float64)),
            batch=torch.from_numpy(np.repeat(np.arange(b, dtype=np.int64), nn)),
            ptr=torch.from_numpy(ptr.astype(np.int64)),
        )
        # The bookkeeping from_data_list leaves, so get_example/to_data_list work too.
        t_ptr = torch.from_numpy(ptr.astype(np.int64))
        t_eptr = torch.from_numpy(eptr.astype(np.int64))
        per_graph = torch.arange(b + 1)
        zeros = torch.zeros(b, dtype=torch.long)
        batch._num_graphs = b
        batch._slice_dict = {
            "x": t_ptr,
            "edge_index": t_eptr,
            "edge_attr": t_eptr,
            "y": per_graph,
            "node_id": t_ptr,
            "node_y": t_ptr,
            "source": per_graph,
            "window_start": per_graph,
        }
        batch._inc_dict = {
            "x": zeros,
            "edge_index": t_ptr[:-1],
            "edge_attr": zeros,
            "y": zeros,
            "node_id": zeros,
            "node_y": zeros,
            "source": zeros,
            "window_start": zeros,
        }
        return batch

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """torch's DataLoader calls this with a whole batch of indices."""
        return self.collate(indices)

    def loader(self, batch_sampler: object, **kwargs: object) -> torch.utils.data.DataLoader:
        """A DataLoader whose batches come from :meth:`collate` (one gather per batch)."""
        return torch.utils.data.DataLoader(
            self,
            batch_sampler=batch_sampler,  # type: ignore[arg-type]
            collate_fn=_identity,
            **kwargs,
        )  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"CachedGraphDataset({self.dataset!r}, {self.split!r}, graphs={len(self)})"


def _identity(batch: Batch) -> Batch:
    return batch
