"""Seeded synthetic CAN traffic: vehicles, attacks, captures and the ``demo`` dataset."""

from __future__ import annotations

from canids_data.synthetic.attacks import Attack, DoS, Fuzzing, Replay, Spoofing, Suspension
from canids_data.synthetic.capture import generate_capture
from canids_data.synthetic.scenarios import (
    DEMO_SPLITS,
    DemoCapture,
    demo_plan,
    write_demo_dataset,
)
from canids_data.synthetic.signals import (
    Checksum,
    Const,
    Counter,
    Field,
    RandomWalk,
    Sine,
    State,
)
from canids_data.synthetic.vehicle import Ecu, MessageSpec, Vehicle, VehicleKind, make_vehicle

__all__ = [
    # vehicles
    "Vehicle",
    "VehicleKind",
    "Ecu",
    "MessageSpec",
    "make_vehicle",
    # payload fields
    "Field",
    "Const",
    "Counter",
    "Checksum",
    "RandomWalk",
    "Sine",
    "State",
    # attacks
    "Attack",
    "DoS",
    "Fuzzing",
    "Spoofing",
    "Replay",
    "Suspension",
    # captures and the demo dataset
    "generate_capture",
    "DEMO_SPLITS",
    "DemoCapture",
    "demo_plan",
    "write_demo_dataset",
]
