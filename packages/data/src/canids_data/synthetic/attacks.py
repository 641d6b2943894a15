"""Attack specs for synthetic captures, the five classic CAN intrusion types.

Each spec is a frozen dataclass with ``start_s`` and ``duration_s`` in seconds from
the capture start. Injected frames carry label 1, the vehicle's own frames label 0.
Suspension is the exception: it injects nothing, so it labels **every frame observed
while the ID is silenced** as 1 (the attack window), since otherwise the attack would
leave no labelled trace at all.

``apply`` works on traffic whose timestamps are integer microseconds from capture
start (held in float64, exact below 2**53); :func:`generate_capture` converts to
epoch seconds at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from canids_data.synthetic.vehicle import Vehicle
from canids_data.table import MessageTable

__all__ = ["Attack", "DoS", "Fuzzing", "Replay", "Spoofing", "Suspension"]

# Injection tools sleep between frames, so real attack timing wobbles a little.
_INJECT_JITTER = 0.05


@dataclass(frozen=True)
class _Window:
    start_s: float
    duration_s: float

    def window_us(self) -> tuple[int, int]:
        start = round(self.start_s * 1e6)
        return start, start + round(self.duration_s * 1e6)

    def check(self, capture_s: float) -> None:
        """Refuse a window that does not lie inside a capture of ``capture_s`` seconds."""
        if not (self.start_s >= 0 and self.duration_s > 0):
            raise ValueError(f"{self}: need start_s >= 0 and duration_s > 0")
        if self.start_s + self.duration_s > capture_s:
            raise ValueError(f"{self}: ends after the capture ({capture_s} s)")

    def _times(self, interval_s: float, rng: np.random.Generator) -> np.ndarray:
        start, end = self.window_us()
        step = interval_s * 1e6
        n = int(np.ceil((end - start) / step))
        jitter = rng.uniform(-_INJECT_JITTER, _INJECT_JITTER, n) * step
        t = np.rint(start + np.arange(n) * step + jitter)
        return np.sort(t[(t >= start) & (t < end)])


def _injected(
    t: np.ndarray, can_id: np.ndarray | int, dlc: int, payload: np.ndarray
) -> MessageTable:
    n = len(t)
    return MessageTable(
        timestamp=t.astype(np.float64),
        can_id=np.broadcast_to(np.asarray(can_id, np.uint32), (n,)).copy(),
        dlc=np.full(n, dlc, np.uint8),
        payload=np.broadcast_to(np.asarray(payload, np.uint8), (n, 8)).copy(),
        label=np.ones(n, np.uint8),
    )


@dataclass(frozen=True)
class DoS(_Window):
    """Flood of the highest-priority ID (0x000, all-zero payload) every ``interval_s``."""

    interval_s: float = 0.0003
    can_id: int = 0x000
    name: ClassVar[str] = "dos"

    def apply(
        self, traffic: MessageTable, vehicle: Vehicle, rng: np.random.Generator
    ) -> MessageTable:
        t = self._times(self.interval_s, rng)
        return MessageTable.concat([traffic, _injected(t, self.can_id, 8, np.zeros(8, np.uint8))])


@dataclass(frozen=True)
class Fuzzing(_Window):
    """Random IDs in ``0x000..max_id`` with random 8-byte payloads every ``interval_s``."""

    interval_s: float = 0.0005
    max_id: int = 0x7FF
    name: ClassVar[str] = "fuzzing"

    def apply(
        self, traffic: MessageTable, vehicle: Vehicle, rng: np.random.Generator
    ) -> MessageTable:
        t = self._times(self.interval_s, rng)
        ids = rng.integers(0, self.max_id + 1, size=len(t))
        payload = rng.integers(0, 256, size=(len(t), 8), dtype=np.uint8)
        return MessageTable.concat([traffic, _injected(t, ids, 8, payload)])


@dataclass(frozen=True)
class Spoofing(_Window):
    """One of the vehicle's IDs sent every ``interval_s`` with a fabricated constant
    payload, alongside the genuine ECU (which keeps sending).

    ``can_id=None`` picks one of the vehicle's IDs and ``payload=None`` random bytes
    for it, both from the capture seed. The fabricated payload ignores the ID's
    counter and checksum, as a naive attacker would.
    """

    can_id: int | None = None
    payload: tuple[int, ...] | None = None
    interval_s: float = 0.001
    name: ClassVar[str] = "spoofing"

    def target(self, vehicle: Vehicle, rng: np.random.Generator) -> int:
        if self.can_id is not None:
            return self.can_id
        return int(rng.choice(np.asarray(vehicle.can_ids)))

    def apply(
        self, traffic: MessageTable, vehicle: Vehicle, rng: np.random.Generator
    ) -> MessageTable:
        can_id = self.target(vehicle, rng)
        if self.payload is not None:
            data = np.asarray(self.payload, np.uint8)
        else:
            dlc = vehicle.message(can_id).dlc if can_id in vehicle.can_ids else 8
            data = rng.integers(0, 256, size=dlc, dtype=np.uint8)
        if len(data) > 8:
            raise ValueError(f"{self}: a classic CAN payload has at most 8 bytes")
        padded = np.zeros(8, np.uint8)
        padded[: len(data)] = data
        t = self._times(self.interval_s, rng)
        return MessageTable.concat([traffic, _injected(t, can_id, len(data), padded)])


@dataclass(frozen=True)
class Replay(_Window):
    """Genuine frames recorded in ``[source_start_s, source_start_s + duration_s)``
    re-sent unchanged, shifted to start at ``start_s``.

    Only normal (label 0) frames are recorded, optionally only ``can_ids``; the
    replayed copies are labelled 1 while the originals stay 0.
    """

    source_start_s: float = 0.0
    can_ids: tuple[int, ...] | None = None
    name: ClassVar[str] = "replay"

    def check(self, capture_s: float) -> None:
        super().check(capture_s)
        if not (self.source_start_s >= 0 and self.source_start_s + self.duration_s <= self.start_s):
            raise ValueError(f"{self}: the recorded segment must end before the replay starts")

    def apply(
        self, traffic: MessageTable, vehicle: Vehicle, rng: np.random.Generator
    ) -> MessageTable:
        src = round(self.source_start_s * 1e6)
        start, end = self.window_us()
        t = traffic.timestamp
        keep = (t >= src) & (t < src + end - start) & (traffic.labels_or_zeros() == 0)
        if self.can_ids is not None:
            keep &= np.isin(traffic.can_id, np.asarray(self.can_ids, np.uint32))
        copy = traffic.take(keep)
        shifted = MessageTable(
            timestamp=copy.timestamp + float(start - src),
            can_id=copy.can_id,
            dlc=copy.dlc,
            payload=copy.payload,
            label=np.ones(len(copy), np.uint8),
        )
        return MessageTable.concat([traffic, shifted])


@dataclass(frozen=True)
class Suspension(_Window):
    """One ECU message silenced for the window (``can_id=None`` picks one of the
    vehicle's fast IDs, period at most 20 ms, from the capture seed).

    There is no injected frame to label, so by convention every frame observed in
    the window is labelled 1 (the window is the attack).
    """

    can_id: int | None = None
    name: ClassVar[str] = "suspension"

    def target(self, vehicle: Vehicle, rng: np.random.Generator) -> int:
        if self.can_id is not None:
            return self.can_id
        fast = [m.can_id for m in vehicle.messages if m.period_s <= 0.02]
        return int(rng.choice(np.asarray(fast or vehicle.can_ids)))

    def apply(
        self, traffic: MessageTable, vehicle: Vehicle, rng: np.random.Generator
    ) -> MessageTable:
        can_id = self.target(vehicle, rng)
        start, end = self.window_us()
        inside = (traffic.timestamp >= start) & (traffic.timestamp < end)
        genuine = traffic.labels_or_zeros() == 0
        kept = traffic.take(~(inside & genuine & (traffic.can_id == can_id)))
        label = kept.labels_or_zeros().copy()
        label[(kept.timestamp >= start) & (kept.timestamp < end)] = 1
        return MessageTable(kept.timestamp, kept.can_id, kept.dlc, kept.payload, label)


Attack = DoS | Fuzzing | Spoofing | Replay | Suspension
