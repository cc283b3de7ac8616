"""The machine: profiles (spec.py) and the simpy models that schedule executed work (sim.py)."""
from .spec import MachineSpec, available_machines, load_machine
from .sim import Schedule, simulate

__all__ = ["MachineSpec", "Schedule", "available_machines", "load_machine", "simulate"]
