"""Payload fields of synthetic CAN messages: what each data byte carries over time.

Every field renders all frames of one CAN ID at once (``render(t, rng)`` with the
frame times in seconds), so a capture costs one numpy call per field, never one per
message. Multi-byte signals are big-endian, as on most powertrain buses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Checksum", "Const", "Counter", "Field", "RandomWalk", "Sine", "State"]


def _to_bytes(values: np.ndarray, width: int) -> np.ndarray:
    """Unsigned integers ``[n]`` to big-endian bytes ``[n, width]``."""
    v = values.astype(np.uint32)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint32) * 8
    return ((v[:, None] >> shifts) & 0xFF).astype(np.uint8)


def _fold(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Reflect ``x`` into ``[low, high]``: a walk bounces off its limits instead of
    sticking to them, so a clipped signal never freezes for seconds."""
    span = high - low
    y = np.mod(x - low, 2.0 * span)
    return low + span - np.abs(y - span)


@dataclass(frozen=True)
class Const:
    """A byte that never changes (configuration, unused bits set by the ECU)."""

    offset: int
    value: int
    width: int = 1

    def render(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.full((len(t), 1), self.value, np.uint8)


@dataclass(frozen=True)
class Counter:
    """A rolling (alive) counter: ``base | ((start + k) % modulus) << shift`` for frame k.

    A 4-bit counter lives in one nibble (``modulus=16, shift=4``) next to constant
    bits in ``base``, as AUTOSAR E2E profiles lay it out.
    """

    offset: int
    modulus: int = 16
    shift: int = 0
    base: int = 0
    start: int = 0
    width: int = 1

    def render(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = (self.start + np.arange(len(t), dtype=np.int64)) % self.modulus
        return (self.base | (k << self.shift)).astype(np.uint8)[:, None]

    def decode(self, byte: np.ndarray) -> np.ndarray:
        """Counter values back from the rendered bytes (used to check rollover)."""
        return (byte.astype(np.int64) >> self.shift) % self.modulus


@dataclass(frozen=True)
class RandomWalk:
    """A slowly drifting physical value (speed, rpm, temperature): a Gaussian random
    walk of ``step`` raw units per frame, reflected into ``[low, high]``."""

    offset: int
    low: int
    high: int
    step: float
    width: int = 1

    def render(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(t)
        x0 = rng.uniform(self.low, self.high)
        x = x0 + np.cumsum(rng.normal(0.0, self.step, n))
        v = np.rint(_fold(x, self.low, self.high)).astype(np.int64)
        return _to_bytes(v, self.width)


@dataclass(frozen=True)
class Sine:
    """A periodic value (steering angle during slalom, HVAC cycling) with a little
    sensor noise; the noise keeps the byte from being perfectly predictable."""

    offset: int
    low: int
    high: int
    period_s: float
    phase: float = 0.0
    noise: float = 0.0
    width: int = 1

    def render(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mid, amp = (self.low + self.high) / 2.0, (self.high - self.low) / 2.0
        x = mid + amp * np.sin(2.0 * np.pi * t / self.period_s + self.phase)
        if self.noise > 0:
            x = x + rng.normal(0.0, self.noise, len(t))
        v = np.rint(np.clip(x, self.low, self.high)).astype(np.int64)
        return _to_bytes(v, self.width)


@dataclass(frozen=True)
class State:
    """A discrete state (gear, door, lamp) that switches rarely between ``levels``:
    each frame switches with probability ``switch_prob`` to a random level."""

    offset: int
    levels: tuple[int, ...]
    switch_prob: float
    width: int = 1

    def render(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(t)
        segment = np.cumsum(rng.random(n) < self.switch_prob)
        choice = rng.integers(0, len(self.levels), size=int(segment[-1]) + 1 if n else 1)
        levels = np.asarray(self.levels, np.int64)
        return _to_bytes(levels[choice[segment]], self.width)


@dataclass(frozen=True)
class Checksum:
    """Integrity byte at ``offset`` (the frame's last data byte) over all bytes before
    it: ``(init + sum) & 0xFF`` or ``init ^ xor``. Injected frames rarely get it
    right, which is one of the cues a detector can learn."""

    offset: int
    method: Literal["sum", "xor"] = "sum"
    init: int = 0

    def compute(self, payload: np.ndarray) -> np.ndarray:
        """Checksum bytes ``[n]`` of frames ``payload`` ``[n, 8]``."""
        body = payload[:, : self.offset]
        if self.method == "sum":
            return ((body.sum(axis=1, dtype=np.int64) + self.init) & 0xFF).astype(np.uint8)
        if body.shape[1] == 0:
            return np.full(len(payload), self.init, np.uint8)
        return (np.bitwise_xor.reduce(body, axis=1) ^ np.uint8(self.init)).astype(np.uint8)


Field = Const | Counter | RandomWalk | Sine | State
