"""Synthetic traffic: determinism, bus realism, each attack's labels and rates, demo layout."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from canids_data.synthetic import (
    DEMO_SPLITS,
    Checksum,
    Counter,
    DoS,
    Fuzzing,
    Replay,
    Spoofing,
    Suspension,
    Vehicle,
    demo_plan,
    generate_capture,
    make_vehicle,
    write_demo_dataset,
)
from canids_data.table import MessageTable

DURATION = 12.0
START = 1_600_000_000.0


@pytest.fixture(scope="module")
def known() -> Vehicle:
    return Vehicle.known(0)


@pytest.fixture(scope="module")
def normal(known: Vehicle) -> MessageTable:
    return generate_capture(known, DURATION, seed=7, start_time=START)


def attacked(vehicle: Vehicle, attack, seed: int = 7) -> MessageTable:
    return generate_capture(vehicle, DURATION, attacks=(attack,), seed=seed, start_time=START)


def micros(table: MessageTable) -> np.ndarray:
    """Microseconds since the capture start, exact integers."""
    return np.rint((table.timestamp - START) * 1e6).astype(np.int64)


def injected(table: MessageTable) -> MessageTable:
    assert table.label is not None
    return table.take(table.label == 1)


def genuine(table: MessageTable) -> MessageTable:
    assert table.label is not None
    return table.take(table.label == 0)


# --- determinism -----------------------------------------------------------------------


def test_same_seed_same_table_and_different_seed_differs(known):
    attacks = (DoS(2, 1), Spoofing(5, 1), Suspension(8, 1))
    a = generate_capture(known, 10, attacks=attacks, seed=3)
    b = generate_capture(known, 10, attacks=attacks, seed=3)
    c = generate_capture(known, 10, attacks=attacks, seed=4)
    assert a.equals(b)
    assert not a.equals(c)
    assert Vehicle.known(5) == Vehicle.known(5)
    assert Vehicle.known(5) != Vehicle.known(6)


@pytest.mark.parametrize("fmt", ["parquet", "cantt"])
def test_demo_files_are_byte_identical_for_a_seed(tmp_path, fmt):
    first = write_demo_dataset(tmp_path / "a", seed=0, fmt=fmt, scale=0.1)
    again = write_demo_dataset(tmp_path / "b", seed=0, fmt=fmt, scale=0.1)
    other = write_demo_dataset(tmp_path / "c", seed=1, fmt=fmt, scale=0.1)
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in again
    ]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(first, again, strict=True))
    assert all(p.read_bytes() != q.read_bytes() for p, q in zip(first, other, strict=True))


def test_attacks_leave_genuine_traffic_unchanged(known, normal):
    table = attacked(known, DoS(3, 2))
    assert genuine(table).equals(normal)


# --- realism of normal traffic ---------------------------------------------------------


def test_timestamps_sorted_microsecond_rounded(normal):
    ts = normal.timestamp
    assert np.all(np.diff(ts) >= 0)
    assert np.array_equal(np.round(ts * 1e6) / 1e6, ts)
    assert all(float(f"{t:.6f}") == t for t in ts[:: max(1, len(ts) // 500)])
    assert START <= ts[0] < START + 0.01
    assert START + DURATION - 0.01 < ts[-1] < START + DURATION
    assert normal.label is not None
    assert not normal.label.any()


def test_each_id_is_periodic_within_jitter(known, normal):
    for m in known.messages:
        t = normal.timestamp[normal.can_id == m.can_id]
        gaps = np.diff(t)
        slack = 2 * m.jitter_s + 2e-6
        assert gaps.min() >= m.period_s - slack, hex(m.can_id)
        assert gaps.max() <= m.period_s + slack, hex(m.can_id)
        assert abs(len(t) - DURATION / m.period_s) <= 1
        assert set(normal.dlc[normal.can_id == m.can_id]) == {m.dlc}


def test_periods_span_10ms_to_1s_and_bus_rate_is_realistic(known, normal):
    periods = {m.period_s for m in known.messages}
    assert min(periods) == 0.01
    assert max(periods) <= 1.0
    assert 1000 <= len(normal) / DURATION <= 2000
    assert {m.dlc for m in known.messages} >= {8}
    assert sum(m.dlc == 8 for m in known.messages) > len(known.messages) / 2
    assert any(m.dlc < 8 for m in known.messages)


def test_counters_roll_over(known, normal):
    counters = [(m, f) for m in known.messages for f in m.fields if isinstance(f, Counter)]
    assert len(counters) >= 5
    for m, f in counters:
        values = f.decode(normal.payload[normal.can_id == m.can_id, f.offset])
        steps = np.diff(values) % f.modulus
        assert np.all(steps == 1), hex(m.can_id)
        assert values.max() == f.modulus - 1 or len(values) < f.modulus


def test_checksums_hold_on_normal_frames(known, normal):
    checked = [m for m in known.messages if m.checksum is not None]
    assert len(checked) >= 3
    for m in checked:
        assert m.checksum is not None
        payload = normal.payload[normal.can_id == m.can_id]
        body = payload[:, : m.dlc - 1].astype(np.int64)
        if m.checksum.method == "sum":
            expected = (body.sum(axis=1) + m.checksum.init) & 0xFF
        else:
            expected = np.bitwise_xor.reduce(body, axis=1) ^ m.checksum.init
        assert np.array_equal(payload[:, m.dlc - 1], expected), hex(m.can_id)


def test_default_start_is_a_seeded_epoch(known):
    a = generate_capture(known, 1, seed=1).timestamp
    b = generate_capture(known, 1, seed=2).timestamp
    assert 1.5e9 <= a[0] < 1.6e9
    assert 1.5e9 <= b[0] < 1.6e9
    assert a[0] != b[0]
    assert np.array_equal(np.round(a * 1e6) / 1e6, a)


def test_payloads_vary_and_zero_past_dlc(known, normal):
    for m in known.messages:
        payload = normal.payload[normal.can_id == m.can_id]
        assert not payload[:, m.dlc :].any()
    changing = sum(
        len(np.unique(normal.payload[normal.can_id == i], axis=0)) > 1 for i in known.can_ids
    )
    assert changing >= len(known.can_ids) - 2


def test_checksum_xor_with_no_body():
    assert np.array_equal(
        Checksum(0, "xor", 0x5A).compute(np.zeros((2, 8), np.uint8)), [0x5A, 0x5A]
    )


def test_known_and_unknown_vehicles_differ_but_overlap():
    known, unknown = make_vehicle("known", 0), make_vehicle("unknown", 0)
    shared = set(known.can_ids) & set(unknown.can_ids)
    assert 20 <= len(known.can_ids) <= 35
    assert 20 <= len(unknown.can_ids) <= 35
    assert 0 < len(shared) < min(len(known.can_ids), len(unknown.can_ids))
    assert 0x000 not in known.can_ids + unknown.can_ids
    assert any(known.message(i) != unknown.message(i) for i in shared)
    for v in (known, unknown):
        assert 1000 <= v.rate_hz <= 2000
    with pytest.raises(ValueError, match="known"):
        make_vehicle("other", 0)  # type: ignore[arg-type]


# --- attacks ---------------------------------------------------------------------------


def check_rate(frames: MessageTable, start: float, duration: float, interval: float) -> None:
    """Injected frames fill exactly the window at the documented rate."""
    t = micros(frames)
    assert np.all(np.diff(t) >= 0)
    assert t[0] >= start * 1e6
    assert t[-1] < (start + duration) * 1e6
    assert np.median(np.diff(t)) == pytest.approx(interval * 1e6, rel=0.05)
    assert np.mean(np.diff(t)) == pytest.approx(interval * 1e6, rel=0.01)
    assert len(frames) == pytest.approx(duration / interval, rel=0.01)


def test_dos_floods_id_zero_every_300us(known, normal):
    table = attacked(known, DoS(3, 2))
    frames = injected(table)
    assert set(frames.can_id) == {0}
    assert not frames.payload.any()
    assert set(frames.dlc) == {8}
    check_rate(frames, 3, 2, 0.0003)


def test_fuzzing_sends_random_ids_every_500us(known):
    frames = injected(attacked(known, Fuzzing(4, 3)))
    check_rate(frames, 4, 3, 0.0005)
    assert frames.can_id.max() <= 0x7FF
    assert len(np.unique(frames.can_id)) > 1500
    assert len(np.unique(frames.payload[:, 0])) == 256


def test_spoofing_repeats_one_fabricated_frame_every_ms(known):
    frames = injected(attacked(known, Spoofing(2, 4)))
    check_rate(frames, 2, 4, 0.001)
    assert len(set(frames.can_id)) == 1
    target = int(frames.can_id[0])
    assert target in known.can_ids
    assert len(np.unique(frames.payload, axis=0)) == 1
    assert set(frames.dlc) == {known.message(target).dlc}
    fixed = injected(attacked(known, Spoofing(2, 1, can_id=0x123, payload=(1, 2, 3))))
    assert set(fixed.can_id) == {0x123}
    assert set(fixed.dlc) == {3}
    assert np.array_equal(fixed.payload[0], [1, 2, 3, 0, 0, 0, 0, 0])


def test_replay_resends_an_earlier_segment_unchanged(known, normal):
    table = attacked(known, Replay(8, 2, source_start_s=2))
    frames = injected(table)
    t = micros(normal)
    source = normal.take((t >= 2_000_000) & (t < 4_000_000))
    assert len(frames) == len(source) > 2000
    assert np.array_equal(micros(frames), micros(source) + 6_000_000)
    assert np.array_equal(frames.can_id, source.can_id)
    assert np.array_equal(frames.dlc, source.dlc)
    assert np.array_equal(frames.payload, source.payload)
    assert genuine(table).equals(normal)


def test_replay_of_selected_ids(known, normal):
    ids = known.can_ids[:3]
    frames = injected(attacked(known, Replay(8, 2, source_start_s=2, can_ids=ids)))
    assert set(frames.can_id) == set(ids)


def test_suspension_silences_one_fast_id_and_labels_the_window(known, normal):
    table = attacked(known, Suspension(5, 3))
    t, t_normal = micros(table), micros(normal)
    window = (t >= 5_000_000) & (t < 8_000_000)
    assert table.label is not None
    assert np.array_equal(table.label, window.astype(np.uint8))
    missing = set(normal.can_id[(t_normal >= 5_000_000) & (t_normal < 8_000_000)]) - set(
        table.can_id[window]
    )
    assert len(missing) == 1
    victim = missing.pop()
    assert known.message(int(victim)).period_s <= 0.02
    # Everything else is the untouched normal traffic.
    gone = (normal.can_id == victim) & (t_normal >= 5_000_000) & (t_normal < 8_000_000)
    assert gone.sum() == pytest.approx(3 / known.message(int(victim)).period_s, abs=1)
    assert table.equals(normal.take(~gone), check_label=False)


def test_explicit_suspension_target(known):
    victim = known.can_ids[-1]
    table = attacked(known, Suspension(5, 3, can_id=victim))
    t = micros(table)
    assert not np.any((table.can_id == victim) & (t >= 5_000_000) & (t < 8_000_000))
    assert np.any((table.can_id == victim) & (t >= 8_000_000))


def test_several_attacks_in_one_capture(known):
    table = generate_capture(
        known, 20, attacks=(DoS(1, 2), Fuzzing(5, 2), Spoofing(9, 2), Replay(15, 1, 12)), seed=1
    )
    assert table.label is not None
    rate = table.label.sum()
    assert rate == pytest.approx(2 / 0.0003 + 2 / 0.0005 + 2 / 0.001 + known.rate_hz, rel=0.03)


@pytest.mark.parametrize(
    ("attack", "match"),
    [
        (DoS(11, 2), "ends after"),
        (Fuzzing(-1, 2), "start_s >= 0"),
        (Spoofing(1, 0), "duration_s > 0"),
        (Replay(5, 2, source_start_s=4), "before the replay"),
    ],
)
def test_attack_windows_are_validated(known, attack, match):
    with pytest.raises(ValueError, match=match):
        generate_capture(known, 12, attacks=(attack,))


# --- demo dataset ----------------------------------------------------------------------


def test_demo_layout_and_size(tmp_path):
    paths = write_demo_dataset(tmp_path, seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(DEMO_SPLITS)
    assert len(paths) == len(demo_plan()) == 10
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"{c.split}/{c.name}.parquet" for c in demo_plan()
    ]
    counts = {p: pq.read_metadata(p).num_rows for p in paths}
    assert 350_000 <= sum(counts.values()) <= 450_000
    by_split: dict[str, list] = {}
    for p in paths:
        labels = pq.read_table(p, columns=["label"]).column("label").to_numpy()
        by_split.setdefault(p.parent.name, []).append(labels)
    # Two attack-free and three attacked training captures, then one capture per test split.
    assert [len(v) for v in by_split.values()] == [2, 3] + [1] * (len(DEMO_SPLITS) - 2)
    assert not any(lab.any() for lab in by_split["train_01_attack_free"])
    for split in DEMO_SPLITS[1:]:
        assert all(0 < lab.mean() < 0.6 for lab in by_split[split]), split
    for c in demo_plan():
        assert 20 <= c.duration_s <= 30
        assert all(a.duration_s >= 2 for a in c.attacks)
    vehicles = {c.split: c.vehicle for c in demo_plan()}
    assert vehicles["test_02_unknown_vehicle_known_attack"] == "unknown"
    assert vehicles["test_03_known_vehicle_unknown_attack"] == "known"
    assert vehicles["test_05_shifted_vehicle_known_attack"] == "shifted"


def test_demo_refuses_formats_that_drop_labels(tmp_path):
    with pytest.raises(ValueError, match="drops the labels"):
        write_demo_dataset(tmp_path, fmt="candump")
    with pytest.raises(ValueError, match="not a known format"):
        write_demo_dataset(tmp_path, fmt="xls")
    assert not any(tmp_path.iterdir())
