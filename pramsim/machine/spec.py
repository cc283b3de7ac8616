"""MachineSpec: a frozen description of a machine, loaded from a TOML profile.

Profiles ship in pramsim/machine/profiles/; a user keeps their own in the user profile folder
(user_profile_dir(): $PRAMSIM_MACHINES_DIR, else platformdirs' user config folder, e.g.
~/.config/pramsim/machines/*.toml, where `pramsim calibrate` writes), usable by name, or passes
the path of any .toml profile. `pramsim machines` lists both. Two kinds:

- "pram": an ideal PRAM with `processors` processors and unit-cost flat memory; time is steps.
- "gpu": SMs x lanes with per-SM SRAM and a shared HBM, each with capacity and bandwidth; time
  is cycles and seconds (pramsim.machine.sim).

Every field is validated on load; an error names the file, the field and its line.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Loc, MachineError, offset_loc, path_exists

PROFILE_DIR = Path(__file__).parent / "profiles"
USER_DIR_ENV = "PRAMSIM_MACHINES_DIR"  # overrides the user profile folder (the tests point it at a temp folder)


@dataclass(frozen=True)
class MachineSpec:
    name: str
    kind: str                       # "pram" | "gpu"
    description: str = ""
    source: str = ""                # where the figures come from
    processors: int = 0             # pram: p
    sms: int = 0                    # gpu: streaming multiprocessors
    lanes_per_sm: int = 0           # gpu: fp32 lanes per SM (one unit-cost op per lane per cycle)
    clock_hz: float = 0.0
    max_threads_per_sm: int = 0
    max_threads_per_block: int | None = None  # gpu: CUDA's block limit (1024); None: no limit below max_threads_per_sm
    max_blocks_per_sm: int = 0
    sram_bytes_per_sm: int = 0      # shared memory a block may use, per SM
    sram_bytes_per_cycle: float = 0.0   # per SM
    hbm_bytes: int = 0
    hbm_bytes_per_s: float = 0.0    # measured or datasheet bandwidth, bytes read + written
    hbm_latency_cycles: int = 0
    launch_overhead_s: float = 0.0  # host-side cost of one kernel launch
    program_overhead_s: float = 0.0  # gpu: host time per timed program besides its launches (zeros fills, events)
    hbm_dependent_latency_cycles: float = 0.0  # gpu: cycles each HBM access of a thread waits for the one before
    l2_bytes: int = 0               # gpu: L2 capacity; 0: no cache model (every byte read is HBM traffic)
    l2_bytes_per_s: float = 0.0     # gpu: L2 bandwidth, at which a launch's re-reads are served
    sram_latency_cycles: float = 0.0    # gpu: latency of a shared-memory access on a block's critical path
    barrier_latency_cycles: float = 0.0  # gpu: cycles a barrier round adds to a block's critical path
    alu_latency_cycles: float = 0.0  # gpu: cycles between a thread's dependent arithmetic operations
    int_divide_instructions: float = 0.0  # gpu: instructions one integer // or % issues (no divider: a subroutine); 0: one
    file: str = ""

    @property
    def p(self) -> int:
        """Processors: the PRAM's p, or every lane of every SM."""
        return self.processors if self.kind == "pram" else self.sms * self.lanes_per_sm

    @property
    def is_gpu(self) -> bool:
        return self.kind == "gpu"

    def with_processors(self, p: int) -> "MachineSpec":
        if self.kind != "pram":
            raise MachineError(f"--p applies to PRAM machines; {self.name!r} has {self.sms} SMs x "
                               f"{self.lanes_per_sm} lanes = {self.p} processors",
                               hint="drop --p, or edit a copy of the profile")
        return dataclasses.replace(self, processors=p)

    def check_block_threads(self, kernel: str, threads: int, loc: Loc | None = None) -> None:
        """MachineError if a launch's block has more threads than a block may have on this machine."""
        limit = self.max_threads_per_block
        if self.is_gpu and limit is not None and threads > limit:
            raise MachineError(
                f"kernel {kernel!r} is launched with {threads:,} threads per block; a block on {self.name} "
                f"has at most {limit:,} threads (max_threads_per_block)", loc=loc,
                hint=f"launch with at most {limit:,} threads per block, k[blocks, threads](...), and let each "
                     f"thread loop over several elements (see programs/attention_flash_looped.py)")

    def summary(self) -> str:
        if self.kind == "pram":
            return f"{self.name}: {self.description or 'ideal PRAM'}, p = {self.p:,}"
        return (f"{self.name}: {self.sms} SMs x {self.lanes_per_sm} lanes @ {self.clock_hz / 1e9:.2f} GHz, "
                f"SRAM {self.sram_bytes_per_sm // 1024} KiB/SM, HBM {self.hbm_bytes_per_s / 1e12:.2f} TB/s")


# field -> (type, required for kinds)
_FIELDS: dict[str, tuple[type, tuple[str, ...]]] = {
    "name": (str, ("pram", "gpu")), "kind": (str, ("pram", "gpu")), "description": (str, ()),
    "source": (str, ()), "processors": (int, ("pram",)), "sms": (int, ("gpu",)),
    "lanes_per_sm": (int, ("gpu",)), "clock_hz": (float, ("gpu",)), "max_threads_per_sm": (int, ("gpu",)),
    "max_blocks_per_sm": (int, ("gpu",)), "sram_bytes_per_sm": (int, ("gpu",)),
    "sram_bytes_per_cycle": (float, ("gpu",)), "hbm_bytes": (int, ("gpu",)),
    "hbm_bytes_per_s": (float, ("gpu",)), "hbm_latency_cycles": (int, ("gpu",)),
    "launch_overhead_s": (float, ()), "max_threads_per_block": (int, ()),
    "program_overhead_s": (float, ()), "hbm_dependent_latency_cycles": (float, ()),
    "l2_bytes": (int, ()), "l2_bytes_per_s": (float, ()), "sram_latency_cycles": (float, ()),
    "barrier_latency_cycles": (float, ()), "alu_latency_cycles": (float, ()),
    "int_divide_instructions": (float, ()),
}


# field -> (lowest, highest) sane positive value: wide enough for any real machine, narrow enough
# that the timing model's arithmetic stays finite (1e-300 bytes/s made its cycle counts infinite).
_RANGES: dict[str, tuple[float, float]] = {
    "processors": (1, 2**63 - 1), "sms": (1, 1e6), "lanes_per_sm": (1, 1e5), "clock_hz": (1e6, 1e12),
    "max_threads_per_sm": (1, 1e7), "max_threads_per_block": (1, 1e7), "max_blocks_per_sm": (1, 1e6),
    "sram_bytes_per_sm": (1, 2**40), "sram_bytes_per_cycle": (1e-3, 1e9), "hbm_bytes": (1, 2**60),
    "hbm_bytes_per_s": (1e6, 1e16), "hbm_latency_cycles": (1, 1e9), "launch_overhead_s": (1e-12, 10.0),
    "program_overhead_s": (1e-12, 10.0), "hbm_dependent_latency_cycles": (1e-3, 1e9),
    "l2_bytes": (1, 2**50), "l2_bytes_per_s": (1e6, 1e17), "sram_latency_cycles": (1e-3, 1e6),
    "barrier_latency_cycles": (1e-3, 1e6), "alu_latency_cycles": (1e-3, 1e6),
    "int_divide_instructions": (1, 1e4),
}


def _num(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def available_machines() -> dict[str, Path]:
    """The shipped profiles, name -> file."""
    return {p.stem: p for p in sorted(PROFILE_DIR.glob("*.toml"))}


def user_profile_dir() -> Path:
    """The user's profile folder: $PRAMSIM_MACHINES_DIR, else `machines` in platformdirs' user
    config folder (~/.config/pramsim/machines on Linux). Not created here (see ensure_user_profile_dir)."""
    if os.environ.get(USER_DIR_ENV):
        return Path(os.environ[USER_DIR_ENV])
    from platformdirs import user_config_dir
    return Path(user_config_dir("pramsim")) / "machines"


def ensure_user_profile_dir() -> Path:
    """The user profile folder, created if missing (for `pramsim calibrate` to write into)."""
    folder = user_profile_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MachineError(f"cannot create the user profile folder {folder}: {exc.strerror or exc}",
                           hint=f"pass --out FILE.toml, or set {USER_DIR_ENV} to a folder you can write") from None
    return folder


def user_machines() -> dict[str, Path]:
    """The user's profiles, name (file stem) -> file; none when the folder is missing or unreadable."""
    try:
        return {p.stem: p for p in sorted(user_profile_dir().glob("*.toml"))}
    except OSError:
        return {}


@dataclass(frozen=True)
class ProfileEntry:
    """One line of `pramsim machines`: a profile that loaded (spec) or a damaged user profile (error)."""
    name: str
    path: Path
    origin: str                       # "shipped" | "user"
    spec: MachineSpec | None = None
    error: MachineError | None = None
    shadowed: bool = False            # a user profile named as a shipped one: usable by path only

    def line(self) -> str:
        """The line of `pramsim machines` (a user profile's with its path)."""
        assert self.spec is not None
        if self.origin != "user":
            return f"{self.name:<8} {self.spec.summary()}"
        note = "; a shipped profile has this name: use the path" if self.shadowed else ""
        return f"{self.name:<8} {self.spec.summary()}  ({self.path}{note})"

    def to_json(self) -> dict[str, Any]:
        """The object of `pramsim machines --json`: every figure, or for a damaged profile the error."""
        row: dict[str, Any] = {"name": self.name, "path": str(self.path), "origin": self.origin}
        if self.shadowed:
            row["shadowed"] = True
        if self.spec is None:
            assert self.error is not None
            return {**row, "error": self.error.message, "where": str(self.error.loc or self.path), "hint": self.error.hint}
        figures = {k: v for k, v in dataclasses.asdict(self.spec).items() if k not in ("name", "file")}
        return {**row, "summary": self.spec.summary(), "figures": figures}


def list_profiles() -> list[ProfileEntry]:
    """The shipped profiles, then the user's. A damaged user profile becomes an entry with its
    error (file:line and what is wrong) instead of stopping the listing; a damaged shipped one
    is a bug in pramsim and raises."""
    shipped = available_machines()
    entries = [ProfileEntry(name, path, "shipped", load_machine(str(path))) for name, path in shipped.items()]
    for name, path in user_machines().items():
        try:
            entries.append(ProfileEntry(name, path, "user", load_machine(str(path)), shadowed=name in shipped))
        except MachineError as exc:
            entries.append(ProfileEntry(name, path, "user", error=exc, shadowed=name in shipped))
    return entries


def _named_profile(name: str) -> Path:
    """The file of a profile given by name: shipped first (a user profile cannot change what a
    shipped name means), then the user profile folder."""
    shipped, user = available_machines(), user_machines()
    if name in shipped:
        return shipped[name]
    if name in user:
        return user[name]
    known = [*shipped, *user]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"available: {', '.join(known)}"
    raise MachineError(f"unknown machine {name!r}",
                       hint=hint + f" (or pass a .toml profile path; user profiles live in {user_profile_dir()})")


def load_machine(name_or_path: str) -> MachineSpec:
    """A shipped or user profile by name, or a TOML file by path."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path_exists(path, MachineError, "machine profile")):
        path = _named_profile(name_or_path)
    if not path_exists(path, MachineError, "machine profile"):
        raise MachineError(f"machine profile {str(path)!r} does not exist")
    if path.is_dir():
        raise MachineError(f"{path} is a folder, not a machine profile",
                           hint="pass a .toml profile, or a shipped name (`pramsim machines`)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MachineError(f"cannot read machine profile {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MachineError(f"profile is not valid UTF-8 (as TOML must be): byte {data[exc.start]:#04x} here",
                           loc=offset_loc(str(path), data, exc.start), hint="save the profile as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+), column (\d+)", str(exc))
        loc = Loc(str(path), int(m.group(1)), int(m.group(2)) - 1) if m else None
        raise MachineError(f"profile is not valid TOML: {exc}", loc=loc) from None
    except ValueError:  # Python's limit on integer digits (4300), which tomllib does not locate
        m = re.search(r"\d{%d,}" % (sys.get_int_max_str_digits() or 4300), text)
        loc = offset_loc(str(path), text, m.start()) if m else None
        raise MachineError("profile has a number with thousands of digits", loc=loc,
                           hint="profile figures are ordinary numbers, e.g. 2.33e12") from None
    return _validate(data, path, text)


def _validate(data: dict[str, Any], path: Path, text: str) -> MachineSpec:
    def where(key: str) -> Loc | None:
        for i, line in enumerate(text.splitlines(), 1):
            if re.match(rf"\s*{re.escape(key)}\s*=", line) or re.match(rf"\s*\[+\s*{re.escape(key)}\s*\]", line):
                return Loc(str(path), i, 0)
        return None

    kind = data.get("kind")
    if kind not in ("pram", "gpu"):
        raise MachineError(f"field 'kind' must be \"pram\" or \"gpu\", got {kind!r}", loc=where("kind") or Loc(str(path), 1))
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, _FIELDS, n=1)
            raise MachineError(f"unknown field {key!r} in machine profile", loc=where(key),
                               hint=f"did you mean {close[0]!r}?" if close else f"fields: {', '.join(_FIELDS)}")
        typ, _ = _FIELDS[key]
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value) if abs(value) < 2**1023 else math.inf  # refused as not finite below
        if not isinstance(value, typ) or isinstance(value, bool):
            raise MachineError(f"field {key!r} must be {typ.__name__}, got {value!r}", loc=where(key))
        if typ is float and not math.isfinite(value):
            raise MachineError(f"field {key!r} must be a finite number, got {value}", loc=where(key))
        if typ in (int, float) and value < 0:
            raise MachineError(f"field {key!r} must not be negative, got {value}", loc=where(key))
        low, high = _RANGES.get(key, (0, math.inf))
        if typ in (int, float) and value != 0 and not low <= value <= high:  # 0: "required" says more
            raise MachineError(f"field {key!r} = {_num(value)} is outside the sane range {_num(low)} to {_num(high)}",
                               loc=where(key), hint="check the unit (bytes, Hz, seconds, cycles) and the exponent")
        values[key] = value
    for key, (_, kinds) in _FIELDS.items():
        if kind in kinds and key not in values:
            raise MachineError(f"{kind} profile {path.name} lacks required field {key!r}", loc=Loc(str(path), 1),
                               hint=f"add `{key} = ...`; see the shipped profiles in {PROFILE_DIR}")
        if kind in kinds and _FIELDS[key][0] in (int, float) and values[key] == 0:
            raise MachineError(f"field {key!r} must be positive", loc=where(key))
    block = values.get("max_threads_per_block")
    if block is not None and (block == 0 or (kind == "gpu" and block > values["max_threads_per_sm"])):
        raise MachineError(f"field 'max_threads_per_block' must be between 1 and max_threads_per_sm "
                           f"({values.get('max_threads_per_sm', 0):,}), got {block:,}", loc=where("max_threads_per_block"))
    return MachineSpec(**values, file=str(path))


def profile_from_text(text: str, path: Path) -> MachineSpec:
    """Validate a profile's TOML text as load_machine validates a file (`path`: where it will be)."""
    return _validate(tomllib.loads(text), path, text)
