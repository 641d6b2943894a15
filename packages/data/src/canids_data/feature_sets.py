"""The feature sets a cache can be built with: each set's node and edge feature names, in
column order. The set is part of the cache config digest (canids_data.config), so a cache
built with another set is reported stale, never reused."""

from __future__ import annotations

__all__ = [
    "EDGE_FEATURES",
    "FEATURE_SETS",
    "INVARIANT_NODE_FEATURES",
    "LOAD_NODE_FEATURES",
    "NODE_FEATURES",
    "feature_names",
]

NODE_FEATURES: tuple[str, ...] = (
    "count_frac",
    *(f"byte{j}_mean" for j in range(8)),
    *(f"byte{j}_std" for j in range(8)),
    "dlc_mean",
    "iat_mean_log_ms",
    "iat_std_log_ms",
    "first_pos",
    "last_pos",
    "payload_change_rate",
)
EDGE_FEATURES: tuple[str, ...] = (
    "count_frac",
    "transition_prob",
    "dt_mean_log_ms",
    "dt_std_log_ms",
    "self_loop",
)

# Vehicle-invariant node features (see canids_data.invariant): timing relative to each ID's
# own period, payload change against its previous frame, how new the ID is in the capture.
INVARIANT_NODE_FEATURES: tuple[str, ...] = (
    "count_frac",
    "first_pos",
    "last_pos",
    "ratio_mean",
    "ratio_min",
    "ratio_max",
    "ratio_abs_mean",
    "ratio_defined_frac",
    "hamming_mean",
    "hamming_max",
    "bytes_changed_mean",
    "repeat_frac",
    "new_frac",
    "id_age",
    "log_period_ms",
    "dlc_mean",
)
# The invariant set plus the window's bus load against the capture's start
# (canids_data.invariant.bus_load): a flood of any ID, known or new, shortens the window.
LOAD_NODE_FEATURES: tuple[str, ...] = (*INVARIANT_NODE_FEATURES, "bus_load")
FEATURE_SETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "v1": (NODE_FEATURES, EDGE_FEATURES),
    # Same edge statistics; the transition times are relative to the capture's typical gap.
    "invariant": (INVARIANT_NODE_FEATURES, EDGE_FEATURES),
    "invariant_load": (LOAD_NODE_FEATURES, EDGE_FEATURES),
}


def feature_names(features: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(node feature names, edge feature names) of a feature set."""
    if features not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {features!r}; known: {', '.join(FEATURE_SETS)}")
    return FEATURE_SETS[features]
