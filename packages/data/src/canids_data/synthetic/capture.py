"""Render a vehicle's traffic, with attacks, into a :class:`MessageTable`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from canids_data.synthetic.attacks import Attack
from canids_data.synthetic.vehicle import Vehicle
from canids_data.table import MessageTable

__all__ = ["generate_capture"]

# Captures start somewhere in 2017-2020, like the public datasets' epoch clocks.
_EPOCH_BASE_S = 1_500_000_000
_EPOCH_SPREAD_S = 100_000_000


def generate_capture(
    vehicle: Vehicle,
    duration_s: float,
    *,
    attacks: Sequence[Attack] = (),
    seed: int = 0,
    start_time: float | None = None,
) -> MessageTable:
    """``duration_s`` seconds of ``vehicle``'s bus with ``attacks`` applied in order.

    Timestamps are epoch seconds rounded to whole microseconds (so ``%.6f`` text
    round-trips exactly), ascending; frames sent in the same microsecond are ordered
    by CAN ID, as arbitration would. The start is drawn from ``seed`` unless
    ``start_time`` is given. Labels: 0 normal, 1 attack (see :mod:`.attacks` for the
    suspension convention).

    The vehicle's own traffic depends on ``seed`` only, never on ``attacks``: the
    same seed with and without an attack gives the same genuine frames, so an
    attack's effect can be isolated by comparing the two.
    """
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    for attack in attacks:
        attack.check(duration_s)
    traffic_seq, attack_seq = np.random.SeedSequence(seed).spawn(2)
    per_message = traffic_seq.spawn(len(vehicle.messages) + 1)

    if start_time is None:
        rng = np.random.default_rng(per_message[0])
        start_us = (_EPOCH_BASE_S + int(rng.integers(0, _EPOCH_SPREAD_S))) * 1_000_000
        start_us += int(rng.integers(0, 1_000_000))
    else:
        start_us = round(start_time * 1e6)

    parts = []
    for message, child in zip(vehicle.messages, per_message[1:], strict=True):
        rng = np.random.default_rng(child)
        t = message.frame_times(duration_s, rng)
        n = len(t)
        parts.append(
            MessageTable(
                timestamp=np.rint(t * 1e6),
                can_id=np.full(n, message.can_id, np.uint32),
                dlc=np.full(n, message.dlc, np.uint8),
                payload=message.render(t, rng),
                label=np.zeros(n, np.uint8),
            )
        )
    traffic = MessageTable.concat(parts)
    for attack, child in zip(attacks, attack_seq.spawn(len(attacks)), strict=True):
        traffic = attack.apply(traffic, vehicle, np.random.default_rng(child))

    order = np.lexsort((traffic.can_id, traffic.timestamp))
    traffic = traffic.take(order)
    # Integer microseconds divided once: the float is the one nearest to the decimal
    # text, which is what parsing "%.6f" gives back.
    micros = start_us + traffic.timestamp.astype(np.int64)
    return MessageTable(
        timestamp=micros / 1e6,
        can_id=traffic.can_id,
        dlc=traffic.dlc,
        payload=traffic.payload,
        label=traffic.labels_or_zeros(),
    )
