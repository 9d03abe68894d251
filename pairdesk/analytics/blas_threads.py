"""One BLAS thread while the scanner runs: its matrices (ten thousand rows by eight columns) are far
too small for threads, and OpenBLAS' threads, spinning on two shared cores, made a 50-symbol scan
4.5 times slower (20 s against 4.4 s) and a two-process scan 17 times slower.

The thread count of the OpenBLAS numpy loaded is set through its own C entry points, found among
the libraries mapped into this process (what threadpoolctl does, for the one library we use).
Where none is found (another platform or BLAS) nothing changes.
"""
from __future__ import annotations

import ctypes
import re
from collections.abc import Iterator
from contextlib import contextmanager

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads")


def _openblas() -> tuple[object, object] | None:
    """(set, get) of the loaded OpenBLAS, or None."""
    import numpy  # noqa: F401  (OpenBLAS is mapped once numpy is imported)

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so[.\d]*)", maps.read())))
    except OSError:
        return None
    for path in paths:
        library = ctypes.CDLL(path)
        setter = next((getattr(library, name) for name in _SETTERS if hasattr(library, name)), None)
        getter = next((getattr(library, name) for name in _GETTERS if hasattr(library, name)), None)
        if setter is not None and getter is not None:
            setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
            return setter, getter
    return None


def limit_blas_threads(count: int = 1) -> int | None:
    """Use ``count`` BLAS threads from now on; returns the previous count (None: no OpenBLAS found)."""
    functions = _openblas()
    if functions is None:
        return None
    setter, getter = functions
    previous = int(getter())
    setter(count)
    return previous


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """One BLAS thread inside the block, the previous count restored after it."""
    previous = limit_blas_threads(1)
    try:
        yield
    finally:
        if previous is not None:
            limit_blas_threads(previous)
