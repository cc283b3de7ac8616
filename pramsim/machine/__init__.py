"""The machine: profiles (spec.py), the simpy models that schedule executed work (sim.py: the PRAM;
gpu.py: the GPU timing model) and what they produce (schedule.py)."""
from .spec import MachineSpec, available_machines, load_machine
from .schedule import Schedule
from .sim import simulate

__all__ = ["MachineSpec", "Schedule", "available_machines", "load_machine", "simulate"]
