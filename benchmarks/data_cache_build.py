"""Benchmark: graph-cache build (canids-data) vs a straightforward per-window pandas build.

canids: ``CacheManager(tmpdir).build(DATASET, ROOT, workers=N)`` timed end to end (fresh
process pool, reading, graphs, staged parts, Zarr writes with checksums, manifest,
publish). Baseline (named ``pandas-per-window``): read each parquet with pandas, decode
the hex payloads once per file, then for each window of W messages compute the same
node features (``groupby`` CAN ID) and edge features (consecutive-ID transitions with
``groupby(['src', 'dst'])``) as ``canids_data.graphs.NODE_FEATURES`` / ``EDGE_FEATURES``.

The baseline is far too slow to run over every window, so it runs on the first
``--baseline-windows`` windows of each of ``--baseline-files`` captures; its time per
window is extrapolated to the number of windows canids built (stated in the output).
Its pandas read+decode is timed on every file, not extrapolated. The baseline writes
nothing (no staging, no Zarr, no checksums, no manifest): that favours the baseline.

Before any ratio is printed, every baseline graph is checked against the graph canids
stored in the cache for the same window (node count, edge count, CAN IDs via the
vocabulary, edge_index, labels, and every feature allclose). A mismatch aborts.

Real data: ``--root`` (default ``$CANIDS_REAL_DATA/hcrl_sa`` or ``../shared/data/real/
hcrl_sa`` from the repository root). When it is absent, a seeded synthetic ``demo``
dataset is written to a temp dir (``--demo-scale``) and benchmarked instead.

    uv run --no-sync python benchmarks/data_cache_build.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _bench import REPO, machine, real_root

DEFAULT_BASELINE_FILES = (
    # Varied on purpose: many IDs (fuzzing), flooding (DoS), normal traffic; three vehicles.
    "test_01_known_vehicle_known_attack__fuzzing-kia.parquet",
    "test_01_known_vehicle_known_attack__DoS-sonata.parquet",
    "test_04_unknown_vehicle_unknown_attack__malfunction-spark.parquet",
)


# --------------------------------------------------------------------------- baseline
BYTE_COLS = [f"b{j}" for j in range(8)]


def pandas_read(path: Path):  # -> pd.DataFrame
    """One capture as a DataFrame: timestamp, id, dlc, label, b0..b7 (payload bytes, 0-padded)."""
    import pandas as pd

    df = pd.read_parquet(path, columns=["timestamp", "id", "data_field", "label"])
    hexs = df["data_field"].astype(str)
    padded = hexs.str.ljust(16, "0")
    pay = np.frombuffer(bytes.fromhex("".join(padded.tolist())), np.uint8).reshape(-1, 8)
    out = pd.DataFrame(
        {
            "timestamp": df["timestamp"].to_numpy(np.float64),
            "id": df["id"].to_numpy(np.int64),
            "dlc": (hexs.str.len() // 2).to_numpy(np.float64),
            "label": df["label"].to_numpy(np.int64),
        }
    )
    for j, col in enumerate(BYTE_COLS):
        out[col] = pay[:, j].astype(np.float64)
    return out


def pandas_window_graph(win, w: int) -> dict[str, np.ndarray]:
    """The graph of one window, computed with pandas groupby the straightforward way."""
    import pandas as pd

    win = win.reset_index(drop=True)
    win["pos"] = np.arange(len(win), dtype=np.float64)
    g = win.groupby("id", sort=True)
    count = g.size().astype(np.float64)
    means = g[BYTE_COLS].mean() / 255.0
    stds = g[BYTE_COLS].std(ddof=0) / 255.0
    dlc = g["dlc"].mean() / 8.0
    # Inter-arrival of each ID within the window (NaN for its first message).
    dt = np.log1p(g["timestamp"].diff().clip(lower=0) * 1e3)
    prev = g[BYTE_COLS].shift()
    changed = (
        (win[BYTE_COLS] != prev).any(axis=1).astype(np.float64).where(prev.notna().all(axis=1))
    )
    per = pd.DataFrame({"id": win["id"], "dt": dt, "changed": changed}).groupby("id", sort=True)
    iat_mean = per["dt"].mean().fillna(0.0)
    iat_std = per["dt"].std(ddof=0).fillna(0.0)
    change_rate = per["changed"].mean().fillna(0.0)
    first = g["pos"].min() / w
    last = g["pos"].max() / w
    x = pd.concat(
        [count / w, means, stds, dlc, iat_mean, iat_std, first, last, change_rate], axis=1
    ).to_numpy(np.float32)
    node_y = (g["label"].max() > 0).to_numpy(np.uint8)
    # Edges: consecutive-ID transitions ID_t -> ID_{t+1} with counts and dt statistics.
    tr = pd.DataFrame(
        {
            "src": win["id"].iloc[:-1].to_numpy(),
            "dst": win["id"].shift(-1).iloc[:-1].astype(np.int64).to_numpy(),
            "dt": np.log1p(
                win["timestamp"].diff().shift(-1).iloc[:-1].clip(lower=0) * 1e3
            ).to_numpy(),
        }
    )
    eg = tr.groupby(["src", "dst"], sort=True)["dt"]
    e = eg.agg(["size", "mean"])
    e["std"] = eg.std(ddof=0).fillna(0.0)
    nodes = count.index
    src = nodes.get_indexer(e.index.get_level_values("src"))
    dst = nodes.get_indexer(e.index.get_level_values("dst"))
    size = e["size"].to_numpy(np.float64)
    edge_attr = np.stack(
        [
            size / max(w - 1, 1),
            size / count.to_numpy()[src],
            e["mean"].to_numpy(),
            e["std"].to_numpy(),
            (src == dst).astype(np.float64),
        ],
        axis=1,
    ).astype(np.float32)
    return {
        "node_can": nodes.to_numpy(np.int64),
        "x": x,
        "node_y": node_y,
        "edge_index": np.stack([src, dst]).astype(np.int64),
        "edge_attr": edge_attr,
        "y": np.uint8(win["label"].any()),
    }


def pandas_graphs(df, w: int, stride: int, limit: int) -> list[dict[str, np.ndarray]]:
    n_win = 0 if len(df) < w else (len(df) - w) // stride + 1
    return [
        pandas_window_graph(df.iloc[i * stride : i * stride + w], w)
        for i in range(min(n_win, limit))
    ]


# --------------------------------------------------------------------------- checking
class CacheGraphs:
    """The graphs the cache stores for one source file, in window order."""

    def __init__(self, store: Path, manifest: dict, rel: str) -> None:
        import zarr
        from canids_data.vocab import Vocabulary

        self.vocab = Vocabulary.from_json(manifest["vocabulary"])
        idx = next(i for i, s in enumerate(manifest["sources"]) if s["path"] == rel)
        src = manifest["sources"][idx]
        if not src["used"]:
            raise SystemExit(
                f"{rel} is a duplicate of {src['duplicate_of']} and not in the "
                "cache; choose another --baseline-files entry"
            )
        split = "train" if src["split"] == "train" else src["split"]
        grp = zarr.open_group(store, mode="r", zarr_format=3)[split]
        gs = np.asarray(grp["graph_source"][:])
        self.graphs = np.flatnonzero(gs == idx)  # main graphs of this file: its first windows
        self.node_ptr = np.asarray(grp["node_ptr"][:])
        self.edge_ptr = np.asarray(grp["edge_ptr"][:])
        self.arr = {
            k: np.asarray(grp[k][:])
            for k in ("x", "node_id", "node_y", "edge_index", "edge_attr", "y")
        }
        self.where = f"{split} split"

    def __len__(self) -> int:
        return len(self.graphs)

    def get(self, k: int) -> dict[str, np.ndarray]:
        a = self.graphs[k]
        n0, n1 = self.node_ptr[a], self.node_ptr[a + 1]
        e0, e1 = self.edge_ptr[a], self.edge_ptr[a + 1]
        return {
            "node_id": self.arr["node_id"][n0:n1],
            "x": self.arr["x"][n0:n1],
            "node_y": self.arr["node_y"][n0:n1],
            "edge_index": self.arr["edge_index"][:, e0:e1],
            "edge_attr": self.arr["edge_attr"][e0:e1],
            "y": self.arr["y"][a],
        }


def check_equal(base: list[dict], cache: CacheGraphs, rel: str, rtol: float, atol: float) -> dict:
    from canids_data.feature_sets import EDGE_FEATURES, NODE_FEATURES

    if len(base) > len(cache):
        raise SystemExit(
            f"{rel}: baseline computed {len(base)} windows but the cache holds only "
            f"{len(cache)} main graphs of it; lower --baseline-windows"
        )
    worst_x = worst_e = 0.0
    for k, b in enumerate(base):
        c = cache.get(k)
        where = f"{rel} window {k}"
        if len(b["x"]) != len(c["x"]) or b["edge_index"].shape[1] != c["edge_index"].shape[1]:
            raise SystemExit(
                f"MISMATCH {where}: baseline {len(b['x'])} nodes/"
                f"{b['edge_index'].shape[1]} edges, canids {len(c['x'])}/"
                f"{c['edge_index'].shape[1]}"
            )
        if not np.array_equal(cache.vocab.index(b["node_can"]), c["node_id"]):
            raise SystemExit(f"MISMATCH {where}: node CAN IDs differ")
        if not np.array_equal(b["edge_index"], c["edge_index"]):
            raise SystemExit(f"MISMATCH {where}: edge_index differs")
        if not (np.array_equal(b["node_y"], c["node_y"]) and b["y"] == c["y"]):
            raise SystemExit(f"MISMATCH {where}: labels differ")
        for name, feats, bx, cx in (
            ("x", NODE_FEATURES, b["x"], c["x"]),
            ("edge_attr", EDGE_FEATURES, b["edge_attr"], c["edge_attr"]),
        ):
            ok = np.isclose(bx, cx, rtol=rtol, atol=atol)
            if not ok.all():
                r, f = np.argwhere(~ok)[0]
                raise SystemExit(
                    f"MISMATCH {where}: {name}[{r}, {feats[f]}] baseline "
                    f"{bx[r, f]!r} canids {cx[r, f]!r}"
                )
        worst_x = max(worst_x, float(np.abs(b["x"] - c["x"]).max(initial=0)))
        worst_e = max(worst_e, float(np.abs(b["edge_attr"] - c["edge_attr"]).max(initial=0)))
    return {"windows": len(base), "max_abs_diff_x": worst_x, "max_abs_diff_edge_attr": worst_e}


# --------------------------------------------------------------------------- profile
class PhaseTimer:
    """Wall time of the build's phases, by wrapping module functions (no library edits)."""

    def __init__(self) -> None:
        self.t: dict[str, float] = {}
        self.undo: list[tuple[object, str, object]] = []
        self.labels: list[str] = []

    def wrap(self, module: object, name: str, label: str) -> None:
        fn = getattr(module, name)

        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.t[label] = self.t.get(label, 0.0) + time.perf_counter() - t0

        self.undo.append((module, name, fn))
        self.labels.append(label)
        setattr(module, name, timed)

    def restore(self) -> None:
        for module, name, fn in reversed(self.undo):
            setattr(module, name, fn)


def profile_workers(root: Path, dataset: str, window: int, stride: int) -> dict[str, float]:
    """Per-file stage times of the worker's job, run serially in this process."""
    from canids_data import BuildConfig, get_dataset, read_capture
    from canids_data.cache import worker
    from canids_data.cache.parts import GRAPH_FIELDS, save_part
    from canids_data.catalog import discover_sources
    from canids_data.graphs import build_graphs

    # The stages of canids_data.cache.worker's job, on the feature set the build measured.
    cfg = BuildConfig(window=window, stride=stride, features="v1")
    spec = get_dataset(dataset)
    sources, _ = discover_sources(spec, root)
    t = {
        "file sha256": 0.0,
        "read_capture": 0.0,
        "content sha256": 0.0,
        "build_graphs": 0.0,
        "save part (one file + fsync)": 0.0,
    }
    tmp = Path(tempfile.mkdtemp(prefix="canids-prof-"))
    try:
        for i, src in enumerate(sources):
            t0 = time.perf_counter()
            worker.file_sha256(src.path)
            t1 = time.perf_counter()
            table, _ = read_capture(src.path, cfg.format or spec.format, hint=spec.format_hint)
            t2 = time.perf_counter()
            worker.content_sha256(table)
            t3 = time.perf_counter()
            g = build_graphs(table, cfg.window, cfg.stride, cfg.features)
            t4 = time.perf_counter()
            arrays = {n: getattr(g, n) for n in GRAPH_FIELDS}
            save_part(tmp / str(i), arrays, {"n": len(table)})
            t5 = time.perf_counter()
            for k, v in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                t[k] += v
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--root",
        type=Path,
        default=None,
        help="dataset root (default: the real hcrl_sa folder when present)",
    )
    ap.add_argument(
        "--dataset", default="hcrl_sa", help="catalogue name of --root (default hcrl_sa)"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--no-workers1",
        action="store_true",
        help="skip the extra one-worker canids build (same core count as the baseline)",
    )
    ap.add_argument(
        "--baseline-files",
        nargs="*",
        default=None,
        help="captures (paths relative to --root) the baseline runs on "
        "(default: three varied hcrl_sa captures; for demo: three files)",
    )
    ap.add_argument(
        "--baseline-windows",
        type=int,
        default=1500,
        help="first N windows of each baseline file (default 1500)",
    )
    ap.add_argument(
        "--demo-scale",
        type=float,
        default=1.0,
        help="scale of the synthetic demo used when --root is absent",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic demo")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also time the build's phases and the worker's stages",
    )
    ap.add_argument("--tmp", type=Path, default=None, help="where temp caches go (default $TMPDIR)")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    cmd = "uv run --no-sync python " + " ".join(
        shlex.quote(a)
        for a in [
            str(Path(sys.argv[0]).resolve().relative_to(REPO))
            if Path(sys.argv[0]).resolve().is_relative_to(REPO)
            else sys.argv[0],
            *sys.argv[1:],
        ]
    )
    print(f"command : {cmd}  (from {REPO})")
    print(f"machine : {machine()}")

    tmp_base = Path(tempfile.mkdtemp(prefix="canids-bench-build-", dir=args.tmp))
    try:
        root = args.root or real_root(args.dataset)
        dataset = args.dataset
        if not root.is_dir():
            from canids_data.synthetic import write_demo_dataset

            if args.root is not None:
                raise SystemExit(f"--root {root} is not a folder")
            root = tmp_base / "demo-root"
            print(
                f"data    : real {dataset} not found at {real_root(dataset)}; writing "
                f"synthetic demo (scale {args.demo_scale}, seed {args.seed}) to {root}"
            )
            write_demo_dataset(root, seed=args.seed, scale=args.demo_scale)
            dataset = "demo"
        print(f"data    : {dataset} at {root}")

        # ------------------------------------------------------------ canids build(s)
        import canids_data
        from canids_data import BuildConfig, CacheManager

        # The pandas baseline implements the v1 feature set (23 node features); the cache is
        # built with it so the two can be checked value for value (the default since
        # issue 10 is `invariant`, whose per-ID periods the baseline lacks.)
        cfg = BuildConfig(features="v1")
        runs = {}
        order = [args.workers] + ([] if args.no_workers1 or args.workers == 1 else [1])
        timer = PhaseTimer() if args.profile else None
        store = None
        for workers in order:
            cache_dir = tmp_base / f"cache-w{workers}"
            if timer is not None and workers == args.workers:
                from canids_data.cache import build as build_mod
                from canids_data.cache import build_store as store_build_mod
                from canids_data.cache import store as store_mod

                # Each phase is wrapped where its caller looks it up (the module that
                # imported it), or the wrapper would never run.
                timer.wrap(build_mod, "_run_jobs", "pool: read + graphs + staged parts")
                timer.wrap(build_mod, "write_store", "assemble + Zarr write + manifest")
                timer.wrap(
                    store_build_mod,
                    "assemble_split",
                    "  Σthreads assemble_split (parts→split, chunks zstd-encoded)",
                )
                timer.wrap(store_mod.SplitWriter, "close", "  Σthreads SplitWriter.close (drain)")
                timer.wrap(build_mod, "_publish", "publish (rename)")
            t0 = time.perf_counter()
            res = CacheManager(cache_dir).build(dataset, root, cfg, workers=workers)
            wall = time.perf_counter() - t0
            if timer is not None:
                timer.restore()
            graphs = sum(int(s["graphs"]) for s in res.manifest["sources"])
            runs[workers] = {
                "wall_s": wall,
                "messages": res.messages,
                "windows": graphs,
                "messages_per_s": res.messages / wall,
            }
            print(
                f"canids  : workers={workers}: {res.messages:,} messages, {graphs:,} windows "
                f"→ {wall:.3f} s, {res.messages / wall / 1e6:.3f} M messages/s"
            )
            if workers == args.workers:
                store, manifest = res.store, res.manifest

        # ------------------------------------------------------------ baseline
        from canids_data import discover_sources, get_dataset

        sources, _ = discover_sources(get_dataset(dataset), root)
        if args.baseline_files:
            chosen = list(args.baseline_files)
        elif dataset == "hcrl_sa":
            chosen = list(DEFAULT_BASELINE_FILES)
        else:  # demo: one attack-free, one with attacks, one unknown vehicle
            rels = [s.rel for s in sources]
            chosen = (
                [r for r in rels if "dos-fuzzing" in r][:1]
                + [r for r in rels if "train_02" in r][:1]
                + [r for r in rels if "test_04" in r][:1]
            )
        missing = [c for c in chosen if c not in {s.rel for s in sources}]
        if missing:
            raise SystemExit(f"--baseline-files not in {dataset}: {missing}")

        t0 = time.perf_counter()
        frames = {s.rel: pandas_read(s.path) for s in sources}
        read_all = time.perf_counter() - t0
        n_msgs = sum(len(f) for f in frames.values())
        print(
            f"baseline: pandas read+decode of all {len(frames)} files ({n_msgs:,} messages): "
            f"{read_all:.3f} s"
        )
        t_graph = 0.0
        n_win = 0
        checks = []
        for rel in chosen:
            t0 = time.perf_counter()
            base = pandas_graphs(frames[rel], cfg.window, cfg.stride, args.baseline_windows)
            dt = time.perf_counter() - t0
            t_graph += dt
            n_win += len(base)
            chk = check_equal(base, CacheGraphs(store, manifest, rel), rel, args.rtol, args.atol)
            checks.append({"file": rel, "seconds": dt, **chk})
            print(
                f"baseline: {rel}: {len(base):,} windows in {dt:.2f} s "
                f"({dt / max(len(base), 1) * 1e3:.2f} ms/window); equal to the cache: nodes, "
                f"edges, IDs, labels exact; max |Δx| {chk['max_abs_diff_x']:.2e}, "
                f"max |Δedge_attr| {chk['max_abs_diff_edge_attr']:.2e}"
            )
        per_window = t_graph / n_win
        total_windows = runs[args.workers]["windows"]
        base_total = read_all + per_window * total_windows
        print(
            f"baseline: EXTRAPOLATED: {per_window * 1e3:.2f} ms/window (measured on {n_win:,} "
            f"windows) × {total_windows:,} windows + {read_all:.2f} s read = {base_total:.1f} s "
            f"→ {n_msgs / base_total / 1e3:.1f} k messages/s (writes nothing)"
        )

        # ------------------------------------------------------------ results
        print()
        print(f"{'run':<42}{'wall s':>10}{'M msg/s':>10}{'× baseline':>12}")
        print(
            f"{'pandas-per-window (baseline, extrapolated)':<42}{base_total:>10.2f}"
            f"{n_msgs / base_total / 1e6:>10.4f}{1.0:>12.1f}"
        )
        for workers, r in runs.items():
            r["speedup_vs_baseline"] = base_total / r["wall_s"]
            label = f"canids CacheManager.build workers={workers}"
            print(
                f"{label:<42}{r['wall_s']:>10.2f}{r['messages_per_s'] / 1e6:>10.3f}"
                f"{r['speedup_vs_baseline']:>12.1f}"
            )
        main_run = runs[args.workers]
        print()
        if dataset != "hcrl_sa":
            print(
                "note    : the targets below are set for the real hcrl_sa data; this is the "
                "small synthetic stand-in"
            )
        print(
            f"targets : ≥ 1 M messages/s end to end: {main_run['messages_per_s'] / 1e6:.3f} M → "
            f"{'met' if main_run['messages_per_s'] >= 1e6 else 'MISSED'};  ≥ 20× baseline: "
            f"{main_run['speedup_vs_baseline']:.1f}× → "
            f"{'met' if main_run['speedup_vs_baseline'] >= 20 else 'MISSED'}"
        )

        prof = None
        if timer is not None:
            prof = {
                "build_phases_s": timer.t,
                "worker_stages_serial_s": profile_workers(root, dataset, cfg.window, cfg.stride),
            }
            print(
                f"\nprofile : build phases, workers={args.workers} "
                f"(wall {main_run['wall_s']:.3f} s):"
            )
            for k in timer.labels:
                print(f"  {k:<48}{timer.t.get(k, 0.0):>8.3f} s")
            top = sum(v for k, v in timer.t.items() if not k.startswith(" "))
            print(
                f"  {'other (discover, lock, stat, cleanup)':<48}{main_run['wall_s'] - top:>8.3f} s"
            )
            print("  (Σthreads rows run two at a time inside the assemble phase)")
            print("profile : worker stages, all files serially in this process:")
            for k, v in prof["worker_stages_serial_s"].items():
                print(f"  {k:<48}{v:>8.3f} s")

        if args.json:
            out = {
                "benchmark": "data_cache_build",
                "command": cmd,
                "machine": machine(),
                "canids_data_version": canids_data.__version__,
                "dataset": dataset,
                "root": str(root),
                "config": cfg.to_json(),
                "canids": runs,
                "baseline": {
                    "name": "pandas-per-window",
                    "extrapolated": True,
                    "read_decode_all_s": read_all,
                    "messages": n_msgs,
                    "measured_windows": n_win,
                    "s_per_window": per_window,
                    "total_windows": total_windows,
                    "total_s": base_total,
                    "messages_per_s": n_msgs / base_total,
                    "files": checks,
                },
                "profile": prof,
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=1) + "\n")
            print(f"json    : {args.json}")
    finally:
        shutil.rmtree(tmp_base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
