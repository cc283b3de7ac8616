"""Which backend runs the kernels a program launches, and the arrays they share.

A backend implements `array`, `zeros`, `launch` and `to_host`. `use_backend(b)` makes `b` the
target of every `k[n](...)` launch and `zeros(...)` call in the host code it wraps.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import TYPE_CHECKING, Any, Iterator, Protocol

import numpy as np

from .errors import Loc, PramsimError

if TYPE_CHECKING:  # the core imports no layer above it
    from .lang import ir


class DeviceArray:
    """A global (HBM) array on a backend: `data` is the backend's buffer (ndarray or device array).

    Host code may slice it (`a[:1]`), which gives a view sharing the buffer, as NumPy and numba do.
    """

    def __init__(self, data: Any, name: str = "", base: "DeviceArray | None" = None):
        self.data = data
        self.name = name
        self.base = base or self

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> "DeviceArray":
        return DeviceArray(self.data[key], self.name, self.base)

    def __repr__(self) -> str:
        return f"<DeviceArray {self.name or '?'} {self.shape} {self.dtype}>"


class Backend(Protocol):
    name: str

    def array(self, host: np.ndarray, name: str) -> DeviceArray: ...
    def zeros(self, shape: int | tuple[int, ...], dtype: np.dtype) -> DeviceArray: ...
    def launch(self, kernel: ir.Kernel, nprocs: int, block: int, args: tuple[Any, ...], loc: Loc) -> None: ...
    def to_host(self, a: DeviceArray) -> np.ndarray: ...


_current: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("pramsim_backend", default=None)


@contextlib.contextmanager
def use_backend(backend: Backend) -> Iterator[Backend]:
    token = _current.set(backend)
    try:
        yield backend
    finally:
        _current.reset(token)


def current_backend(loc: Loc | None = None) -> Backend:
    b = _current.get()
    if b is None:
        raise PramsimError("kernels can only be launched while pramsim runs a program", loc=loc,
                           hint="run it with `pramsim run FILE` or pramsim.runner.run_program(...)")
    return b
