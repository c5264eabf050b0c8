"""Keep freed memory in the process during training (glibc ``mallopt``), instead of unmapping it.

A pretraining step on the CPU allocates the same large blocks every step (the loaded batch, the two
views, the activations: 0.1-2 MB each). glibc serves blocks above its mmap threshold with a fresh
``mmap`` and gives them back with ``munmap`` when freed, and trims the top of its heap back to the
kernel; the next step then page-faults every page of those blocks in again, zero-filled by the
kernel. Measured on the 3kg cpu-small step (``benchmarks/pretrain.py``): making the two views took
3.1-4.2 ms with glibc's defaults and 0.9 ms with the memory kept, about a tenth of the whole step.

:func:`keep_freed_memory` raises the mmap threshold to 32 MB (glibc's largest) and the trim threshold
to 512 MB, the documented tunables (``mallopt(3)``; PyTorch's performance guide reaches the same
end by preloading jemalloc or tcmalloc). The cost is memory: freed blocks stay with the process for
reuse, up to the trim threshold. It does nothing when the C library is not glibc, when the user set
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` (their choice wins), or when
``THREEKG_KEEP_FREED_MEMORY=0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
TRIM_THRESHOLD = 512 * 1024 * 1024

_done: list[bool] = []


def keep_freed_memory() -> bool:
    """Apply the two glibc tunables once per process; True when they are in effect."""
    if _done:
        return _done[0]
    applied = False
    if os.environ.get("THREEKG_KEEP_FREED_MEMORY", "1") == "0":
        log.debug("allocator tunables off: THREEKG_KEEP_FREED_MEMORY=0")
    elif any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        log.debug("allocator tunables left to the environment (MALLOC_*_THRESHOLD_ set)")
    else:
        applied = _mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and _mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        log.debug("allocator tunables %s", "applied" if applied else "not available (not glibc)")
    _done.append(applied)
    return applied


def _mallopt(param: int, value: int) -> bool:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # no C library by that name, or no mallopt (musl, macOS)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(param, value))
