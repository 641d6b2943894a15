"""Synthetic vehicles: ECUs that broadcast periodic CAN IDs with structured payloads.

A :class:`Vehicle` is a frozen description (no random state inside): the same seed
always builds the same vehicle, and rendering its traffic takes a separate seed.
``Vehicle.known(seed)`` and ``Vehicle.unknown(seed)`` share part of their ID set, as
two cars of one maker share some message catalogue, and differ in the rest, in
periods and in payload layout: the "unknown vehicle" splits test that a detector
generalises beyond the car it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from canids_data.synthetic.signals import (
    Checksum,
    Const,
    Counter,
    Field,
    RandomWalk,
    Sine,
    State,
)

__all__ = ["Ecu", "MessageSpec", "Vehicle", "VehicleKind", "make_vehicle"]

VehicleKind = Literal["known", "unknown", "shifted"]

_ECU_NAMES = ("engine", "transmission", "brakes", "steering", "body", "cluster", "airbag", "adas")
_PERIODS = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
_PERIOD_WEIGHTS = np.array([0.25, 0.2, 0.2, 0.15, 0.1, 0.05, 0.05])
_RATE_RANGE_HZ = (1000.0, 1400.0)
# The "shifted" vehicle: another maker. None of its IDs is on the other two and its periods
# sit between theirs, so nothing about its normal traffic looks familiar.
_SHIFTED_PERIODS = _PERIODS * 1.5
_SHIFTED_RATE_RANGE_HZ = (800.0, 1150.0)
_SHIFTED_IDS = 36
# IDs are drawn above 0x00F so that no vehicle ever owns 0x000, the DoS flood ID.
_ID_LOW, _ID_HIGH = 0x010, 0x7F0
_POOL_SIZE = 60


@dataclass(frozen=True)
class MessageSpec:
    """One periodic CAN ID: when it is sent and what its ``dlc`` data bytes hold.

    Frame k is sent at ``phase + k * period_s`` plus uniform jitter in
    ``[-jitter_s, jitter_s]``; jitter does not accumulate, as ECUs schedule off a
    hardware timer.
    """

    can_id: int
    period_s: float
    jitter_s: float
    dlc: int
    fields: tuple[Field, ...]
    checksum: Checksum | None = None

    def __post_init__(self) -> None:
        where = f"MessageSpec(can_id=0x{self.can_id:03x})"
        if not 0 <= self.can_id <= 0x7FF:
            raise ValueError(f"{where}: standard CAN IDs are 0x000-0x7FF")
        if not 0 <= self.dlc <= 8:
            raise ValueError(f"{where}: dlc must be 0-8, got {self.dlc}")
        if not (self.period_s > 0 and 0 <= self.jitter_s < self.period_s / 2):
            raise ValueError(f"{where}: need period_s > 0 and 0 <= jitter_s < period_s / 2")
        used = np.zeros(8, np.int64)
        for f in self.fields:
            used[f.offset : f.offset + f.width] += 1
            if f.offset + f.width > self.dlc:
                raise ValueError(f"{where}: field {f} lies past dlc {self.dlc}")
        if self.checksum is not None:
            if self.checksum.offset != self.dlc - 1:
                raise ValueError(f"{where}: the checksum must be the last data byte")
            used[self.checksum.offset] += 1
        if used.max(initial=0) > 1:
            raise ValueError(f"{where}: payload fields overlap")

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.period_s

    def frame_times(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        """Send times in seconds from capture start, ascending, all in ``[0, duration_s)``."""
        phase = rng.uniform(self.jitter_s, self.period_s)
        n = int(np.ceil(duration_s / self.period_s)) + 1
        t = phase + np.arange(n) * self.period_s
        t = t + rng.uniform(-self.jitter_s, self.jitter_s, n)
        return t[t < duration_s]

    def render(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Payloads ``[len(t), 8]`` uint8 of frames sent at ``t``, zero past ``dlc``."""
        payload = np.zeros((len(t), 8), np.uint8)
        for f in self.fields:
            payload[:, f.offset : f.offset + f.width] = f.render(t, rng)
        if self.checksum is not None:
            payload[:, self.checksum.offset] = self.checksum.compute(payload)
        return payload


@dataclass(frozen=True)
class Ecu:
    """A control unit and the IDs it broadcasts."""

    name: str
    messages: tuple[MessageSpec, ...]


@dataclass(frozen=True)
class Vehicle:
    """A bus full of ECUs. Build one with :meth:`known`, :meth:`unknown` or
    :func:`make_vehicle`, or by hand from :class:`Ecu` and :class:`MessageSpec`."""

    name: str
    ecus: tuple[Ecu, ...]

    def __post_init__(self) -> None:
        ids = [m.can_id for e in self.ecus for m in e.messages]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Vehicle {self.name!r}: two messages share a CAN ID")

    @property
    def messages(self) -> tuple[MessageSpec, ...]:
        """Every message of every ECU, by ascending CAN ID."""
        return tuple(sorted((m for e in self.ecus for m in e.messages), key=lambda m: m.can_id))

    @property
    def can_ids(self) -> tuple[int, ...]:
        return tuple(m.can_id for m in self.messages)

    @property
    def rate_hz(self) -> float:
        """Mean bus load in messages per second."""
        return float(sum(m.rate_hz for m in self.messages))

    def message(self, can_id: int) -> MessageSpec:
        for m in self.messages:
            if m.can_id == can_id:
                return m
        raise ValueError(f"Vehicle {self.name!r} sends no CAN ID 0x{can_id:03x}")

    @classmethod
    def known(cls, seed: int = 0) -> Vehicle:
        """The vehicle the training splits are recorded on."""
        return make_vehicle("known", seed)

    @classmethod
    def unknown(cls, seed: int = 0) -> Vehicle:
        """A second vehicle that shares some IDs with ``known(seed)``, for held-out tests."""
        return make_vehicle("unknown", seed)

    @classmethod
    def shifted(cls, seed: int = 0) -> Vehicle:
        """A third vehicle sharing no ID with the other two, with other periods."""
        return make_vehicle("shifted", seed)


def make_vehicle(kind: VehicleKind, seed: int = 0) -> Vehicle:
    """Build the ``known`` (30 IDs), ``unknown`` (28 IDs, 12 shared with ``known``) or
    ``shifted`` vehicle (36 IDs shared with neither, other periods, a busier bus) of
    ``seed``."""
    if kind not in ("known", "unknown", "shifted"):
        raise ValueError(f"vehicle kind must be 'known', 'unknown' or 'shifted', got {kind!r}")
    # known and unknown draw from one seeded pool so their ID sets overlap by construction.
    pool = np.random.default_rng([seed, 0]).choice(
        np.arange(_ID_LOW, _ID_HIGH), size=_POOL_SIZE, replace=False
    )
    if kind == "shifted":
        rest = np.setdiff1d(np.arange(_ID_LOW, _ID_HIGH), pool)
        ids = np.sort(
            np.random.default_rng([seed, 3]).choice(rest, size=_SHIFTED_IDS, replace=False)
        )
        rng = np.random.default_rng([seed, 4])
        periods = _draw_periods(ids, rng, _SHIFTED_PERIODS, _SHIFTED_RATE_RANGE_HZ)
    else:
        ids = np.sort(pool[:30] if kind == "known" else pool[18:46])
        rng = np.random.default_rng([seed, 1 if kind == "known" else 2])
        periods = _draw_periods(ids, rng)
    n_ecus = int(rng.integers(6, len(_ECU_NAMES) + 1))
    owner = rng.integers(0, n_ecus, size=len(ids))
    messages = [_make_message(int(i), float(p), rng) for i, p in zip(ids, periods, strict=True)]
    ecus = tuple(
        Ecu(_ECU_NAMES[e], tuple(m for m, o in zip(messages, owner, strict=True) if o == e))
        for e in range(n_ecus)
    )
    return Vehicle(name=f"{kind}-{seed}", ecus=tuple(e for e in ecus if e.messages))


def _draw_periods(
    ids: np.ndarray,
    rng: np.random.Generator,
    grid: np.ndarray = _PERIODS,
    rate_range: tuple[float, float] = _RATE_RANGE_HZ,
) -> np.ndarray:
    """Periods from ``grid`` whose total rate lies in ``rate_range``; low IDs (high bus
    priority) tend to be the fast ones, as on real buses."""
    for _ in range(10_000):
        periods = np.sort(rng.choice(grid, size=len(ids), p=_PERIOD_WEIGHTS))
        if rate_range[0] <= (1.0 / periods).sum() <= rate_range[1]:
            break
    else:  # pragma: no cover - the weights make this astronomically unlikely
        raise RuntimeError("could not draw periods within the target bus rate")
    rank = np.argsort(np.argsort(ids + rng.normal(0.0, 300.0, len(ids))))
    return periods[rank]


def _make_message(can_id: int, period: float, rng: np.random.Generator) -> MessageSpec:
    dlc = int(rng.choice([8, 7, 6, 5, 4, 3, 2], p=[0.7, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]))
    end = dlc
    checksum = None
    if dlc >= 3 and rng.random() < 0.6:
        method: Literal["sum", "xor"] = "sum" if rng.random() < 0.5 else "xor"
        checksum = Checksum(dlc - 1, method, int(rng.integers(0, 256)))
        end -= 1
    fields: list[Field] = []
    if rng.random() < 0.75:
        end -= 1
        if rng.random() < 0.5:
            base, start = int(rng.integers(0, 16)), int(rng.integers(0, 16))
            fields.append(Counter(end, modulus=16, shift=4, base=base, start=start))
        else:
            fields.append(Counter(end, modulus=256, start=int(rng.integers(0, 256))))
    # Slow messages change more per frame, so every signal drifts at a similar speed.
    speed = float(np.sqrt(period / 0.01))
    i = 0
    while i < end:
        r = rng.random()
        if r < 0.2 and end - i >= 2:
            hi = int(rng.integers(4000, 65000))
            if rng.random() < 0.6:
                fields.append(RandomWalk(i, 0, hi, step=hi * 2e-4 * speed, width=2))
            else:
                fields.append(
                    Sine(
                        i,
                        0,
                        hi,
                        float(rng.uniform(4, 40)),
                        float(rng.uniform(0, 6.3)),
                        noise=hi * 1e-3,
                        width=2,
                    )
                )
            i += 2
            continue
        if r < 0.4:
            lo = int(rng.integers(0, 100))
            fields.append(RandomWalk(i, lo, int(rng.integers(lo + 40, 256)), 0.3 * speed))
        elif r < 0.5:
            fields.append(
                Sine(
                    i,
                    0,
                    int(rng.integers(30, 256)),
                    float(rng.uniform(2, 30)),
                    float(rng.uniform(0, 6.3)),
                    noise=float(rng.uniform(0, 1.5)),
                )
            )
        elif r < 0.62:
            levels = tuple(
                int(v) for v in rng.choice(256, size=int(rng.integers(2, 6)), replace=False)
            )
            fields.append(State(i, levels, switch_prob=float(0.002 * speed)))
        else:
            value = int(rng.choice([0x00, 0xFF, int(rng.integers(0, 256))]))
            fields.append(Const(i, value))
        i += 1
    jitter = period * float(rng.uniform(0.005, 0.02))
    return MessageSpec(can_id, period, jitter, dlc, tuple(fields), checksum)
