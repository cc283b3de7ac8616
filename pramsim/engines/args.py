"""A launch's arguments checked against its kernel, once, for every engine."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExecutionError, Loc, PramsimError
from ..lang import ir
from ..runtime import DeviceArray


def bind_args(kernel: ir.Kernel, args: tuple[Any, ...], loc: Loc,
              error: type[PramsimError] = ExecutionError) -> tuple[dict[str, Any], dict[str, Any]]:
    """A launch's arguments checked against the kernel: (arrays by name, numbers by name), raising
    `error` (the CUDA backend passes LoweringError) at the launch's line. Arrays are the DeviceArrays'
    data; numbers are Python scalars."""
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    k = kernel
    for param, value in zip(k.params, args):
        if param.name in k.arrays:
            if not isinstance(value, DeviceArray):
                raise error(
                    f"kernel {k.name!r} indexes parameter {param.name!r} as an array, "
                    f"but the launch passed {value!r} ({type(value).__name__})", loc=loc,
                    hint="pass an array created by the program's inputs or by zeros(...)")
            arrays[param.name] = value.data
        else:
            if isinstance(value, DeviceArray):
                raise error(
                    f"kernel {k.name!r} uses parameter {param.name!r} as a number, but the launch passed an array",
                    loc=loc, hint=f"index it inside the kernel ({param.name}[i]) or pass a number")
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise error(
                    f"kernel {k.name!r}: argument {param.name!r} must be a number, got {type(value).__name__}",
                    loc=loc)
            scalars[param.name] = value.item() if isinstance(value, np.generic) else value
    return arrays, scalars


def footprints(kernel: ir.Kernel, arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """The launch's global arrays in bytes, as LaunchTrace keeps them: all of them (arg_bytes) and
    those the kernel reads (read_arg_bytes): the most a launch can touch, and read, once."""
    loaded = ir.loaded_arrays(kernel)
    return {"arg_bytes": sum(int(a.nbytes) for a in arrays.values()),
            "read_arg_bytes": sum(int(a.nbytes) for name, a in arrays.items() if name in loaded)}
