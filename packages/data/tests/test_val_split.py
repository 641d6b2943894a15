"""The validation rule: each training capture's clean start, then seeded time blocks, one
with attack windows wherever the capture has any, every block embargoed on both sides."""

from __future__ import annotations

import numpy as np
import pytest
from canids_data import BuildConfig, CatalogError
from canids_data.cache.val_split import (
    ASSIGN_EMBARGO,
    ASSIGN_MAIN,
    ASSIGN_VAL,
    assign_validation,
)


def _capture(n=600, attack=(300, 360), rate=20.0):
    """``n`` windows at ``rate`` per second; attack windows in ``attack`` (half-open)."""
    y = np.zeros(n, np.uint8)
    if attack is not None:
        y[attack[0] : attack[1]] = 1
    return y, 100.0 + (np.arange(n) + 1) / rate


def _assign(y, ends, **kw):
    args = {
        "mode": "blocks",
        "y": y,
        "window_end": ends,
        "capture_start": 100.0,
        "val_fraction": 0.15,
        "embargo": 1,
        "val_blocks": 3,
        "val_start_seconds": 5.0,
        "seed": 0,
        "key": "train_02/a.parquet",
    }
    return assign_validation(**{**args, **kw})


def _blocks(assign):
    """(start, end) of each run of validation windows."""
    val = np.concatenate(([0], (assign == ASSIGN_VAL).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(val))
    return list(zip(edges[::2], edges[1::2], strict=True))


@pytest.mark.parametrize("seed", range(20))
def test_blocks_hold_attacks_the_clean_start_and_are_embargoed(seed):
    y, ends = _capture()
    a = _assign(y, ends, seed=seed)
    blocks = _blocks(a)
    # The clean start: the windows that end within 5 s (100 windows at 20 per second).
    assert blocks[0] == (0, 100)
    assert a[100] == ASSIGN_EMBARGO
    # 3 blocks of floor(600 * 0.15 / 3) = 30 windows (separate, or merged when adjacent).
    assert int((a == ASSIGN_VAL).sum()) == 100 + 3 * 30
    # Validation holds attack windows, and training keeps some (at most half went to val).
    assert y[a == ASSIGN_VAL].any()
    assert y[a == ASSIGN_MAIN].any()
    # Both sides of every block are embargoed: no training window next to a validation one.
    main, val = np.flatnonzero(a == ASSIGN_MAIN), np.flatnonzero(a == ASSIGN_VAL)
    assert np.abs(main[:, None] - val[None, :]).min() >= 2
    for lo, hi in blocks:
        if lo > 0:
            assert a[lo - 1] == ASSIGN_EMBARGO
        if hi < len(a):
            assert a[hi] == ASSIGN_EMBARGO


def test_the_draw_is_seeded_per_capture():
    y, ends = _capture()
    assert np.array_equal(_assign(y, ends), _assign(y, ends))
    others = [_assign(y, ends, seed=s) for s in range(1, 6)]
    assert any(not np.array_equal(_assign(y, ends), o) for o in others)
    assert not np.array_equal(_assign(y, ends), _assign(y, ends, key="train_02/b.parquet"))


def test_a_short_attack_still_reaches_validation():
    y, ends = _capture(attack=(450, 452))  # two attack windows only
    a = _assign(y, ends)
    assert y[a == ASSIGN_VAL].sum() >= 1


def test_attack_free_capture_and_a_short_clean_start():
    y, ends = _capture(attack=None)
    a = _assign(y, ends, val_start_seconds=100.0)  # longer than a fifth of the capture
    assert _blocks(a)[0] == (0, 120)  # cut to 20 % of its 600 windows
    assert not y.any()


def test_tail_mode_is_the_old_rule():
    y, ends = _capture()
    a = _assign(y, ends, mode="tail")
    assert (a[-90:] == ASSIGN_VAL).all()
    assert a[-91] == ASSIGN_EMBARGO
    assert (a[:-91] == ASSIGN_MAIN).all()


def test_nothing_to_split():
    y, ends = _capture(n=0, attack=None)
    assert len(_assign(y, ends)) == 0
    y, ends = _capture()
    assert (_assign(y, ends, val_fraction=0.0) == ASSIGN_MAIN).all()


def test_the_split_is_part_of_the_config_digest():
    base = BuildConfig()
    changed = [
        BuildConfig(validation="tail"),
        BuildConfig(val_blocks=2),
        BuildConfig(val_start_seconds=5.0),
        BuildConfig(val_seed=1),
        BuildConfig(features="v1"),
        BuildConfig(features="invariant_load"),
    ]
    digests = {base.digest, *(c.digest for c in changed)}
    assert len(digests) == 1 + len(changed)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"validation": "random"}, "validation must be one of blocks, tail"),
        ({"features": "raw"}, "features must be one of"),
        ({"val_blocks": 0}, "val_blocks must be at least 1"),
        ({"val_start_seconds": -1.0}, "val_start_seconds must be in"),
    ],
)
def test_bad_split_settings_are_refused(kwargs, match):
    with pytest.raises(CatalogError, match=match):
        BuildConfig(**kwargs)
